"""Pass 1 of the legacy checks: what every check needs to know about the prompt/completion rows.

Each segment of the file is gathered on its own (in a worker process for big JSON Lines files);
the parts merge in file order, so the result is the same however the file was cut. Memory holds a
128-bit fingerprint per row (to spot duplicates), never the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ftctl.prepare import engine
from ftctl.prepare.files import LineTooLong, input_error, line_too_long
from ftctl.prepare.readers import Row, RowError, Source, iter_rows, segment_rows

PROMPT_SEPARATORS = (
    " ->",
    "\n\n###\n\n",
    "\n\n===\n\n",
    "\n\n---\n\n",
    "\n\n===>\n\n",
    "\n\n--->\n\n",
)
COMPLETION_ENDINGS = ("\n", ".", " END", "***", "+++", "&&&", "$$$", "@@@", "%%%")
LONG_EXAMPLE_CHARS = 10_000
CLASSIFICATION_RATIO = 3
BATCH = 1024

OPEN_ENDED = "open-ended generation"
CLASSIFICATION = "classification"
CONDITIONAL = "conditional generation"

Progress = Callable[[int], None]  # bytes of the file done in this pass, for a progress bar
Segment = engine.Segment | None  # None: the whole source, read by its reader

_NOT_UPPER = bytes(b for b in range(256) if not 65 <= b <= 90)
_NOT_LOWER = bytes(b for b in range(256) if not 97 <= b <= 122)
_ASCII = bytes(range(128))
_M64 = (1 << 64) - 1


def case_counts(text: str) -> tuple[int, int]:
    """(uppercase letters, lowercase letters), as str.isalpha/isupper/islower see them. Counted on
    the UTF-8 bytes: ASCII letters by deleting every other byte (no byte of a longer sequence is
    below 128), the other characters tallied once per distinct one."""
    raw = text.encode("utf-8", "surrogatepass")
    upper = len(raw.translate(None, _NOT_UPPER))
    lower = len(raw.translate(None, _NOT_LOWER))
    if len(raw) == len(text):
        return upper, lower
    others = raw.translate(None, _ASCII).decode("utf-8", "surrogatepass")
    for ch, n in Counter(others).items():
        if ch.isalpha():
            if ch.isupper():
                upper += n
            elif ch.islower():
                lower += n
    return upper, lower


def common_prefix(a: str, b: str) -> str:
    if b.startswith(a):
        return a
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return a[:i]


def common_suffix(a: str, b: str) -> str:
    if b.endswith(a):
        return a
    n = min(len(a), len(b))
    i = 0
    while i < n and a[-1 - i] == b[-1 - i]:
        i += 1
    return a[len(a) - i :]


def digest(prompt: str, completion: str) -> int:
    """A 128-bit fingerprint of a row: two keyed SipHash values of the pair (Python's own string
    hashing, whose key forked workers share), so telling rows apart needs no copy of them."""
    return ((hash((prompt, completion)) & _M64) << 64) | (hash((completion, prompt, 1)) & _M64)


def task_of(any_prompt: bool, unique_completions: int, examples: int) -> str:
    """The legacy tool's guess of the task: no prompts, few distinct completions, or neither."""
    if not any_prompt:
        return OPEN_ENDED
    if unique_completions < examples / CLASSIFICATION_RATIO:
        return CLASSIFICATION
    return CONDITIONAL


@dataclass
class TextStats:
    """What the checks need to know about one column. Texts are looked at in batches (one joined
    string per batch for the substring and letter-case checks), so the per-row cost is a list
    append."""

    separators: tuple[str, ...]
    upper: int = 0
    lower: int = 0
    prefix: str | None = None
    suffix: str | None = None
    first: str | None = None
    all_equal: bool = True
    has_newline: bool = False
    contains: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.contains:
            self.contains = [False] * len(self.separators)

    def add_batch(self, texts: list[str]) -> None:
        if not texts:
            return
        joined = "\x00".join(texts)  # no separator holds NUL, so none spans two texts
        upper, lower = case_counts(joined)
        self.upper += upper
        self.lower += lower
        if not self.has_newline and "\n" in joined:
            self.has_newline = True
        contains = self.contains
        for i, separator in enumerate(self.separators):
            if not contains[i] and separator in joined:
                contains[i] = True
        if self.prefix is None or self.suffix is None:
            self.prefix = self.suffix = self.first = texts[0]
        if self.all_equal and texts.count(self.first or "") != len(texts):
            self.all_equal = False
        prefix = self.prefix
        if prefix:
            lowest, highest = min(texts), max(texts)  # the common prefix of all is theirs
            self.prefix = common_prefix(common_prefix(prefix, lowest), highest)
        suffix = self.suffix
        if suffix:
            for text in texts:
                if not text.endswith(suffix):
                    suffix = common_suffix(suffix, text)
                    if not suffix:
                        break
            self.suffix = suffix

    def merge(self, other: TextStats) -> None:
        self.upper += other.upper
        self.lower += other.lower
        if other.prefix is None or other.suffix is None:
            return
        if self.prefix is None or self.suffix is None:
            self.prefix, self.suffix, self.first = other.prefix, other.suffix, other.first
            self.all_equal = other.all_equal
        else:
            self.prefix = common_prefix(self.prefix, other.prefix)
            self.suffix = common_suffix(self.suffix, other.suffix)
            self.all_equal = self.all_equal and other.all_equal and self.first == other.first
        self.has_newline = self.has_newline or other.has_newline
        self.contains = [a or b for a, b in zip(self.contains, other.contains, strict=True)]


@dataclass
class SegmentStats:
    """Pass 1 over one segment. Row and example numbers are local to the segment."""

    lines: int = 0
    rows: int = 0
    columns: dict[str, None] = field(default_factory=dict)
    empty_rows: list[int] = field(default_factory=list)
    examples: int = 0
    prompt_chars: int = 0
    completion_hashes: set[int] = field(default_factory=set)
    digests: list[int] = field(default_factory=list)
    long_rows: list[int] = field(default_factory=list)
    prompts: TextStats = field(default_factory=lambda: TextStats(PROMPT_SEPARATORS))
    completions: TextStats = field(default_factory=lambda: TextStats(COMPLETION_ENDINGS))
    first_completion_char: str | None = None
    completion_first_chars_equal: bool = True
    error: tuple[int, str, str | None] | None = None  # (line in the segment, message, hint)


def _other_format(row: Row) -> bool:
    return "messages" in row or "preferred_output" in row or "non_preferred_output" in row


def _accumulate(
    part: SegmentStats,
    rows: Iterable[tuple[int, Row]],
    prompt_key: str,
    completion_key: str,
    json_data: bool,
) -> None:
    columns = part.columns
    known = columns.keys()
    uniques = part.completion_hashes
    digests = part.digests
    empty_rows = part.empty_rows
    long_rows = part.long_rows
    fingerprint = digest
    prompt_batch: list[str] = []
    completion_batch: list[str] = []
    first_char = part.first_completion_char
    same_first = part.completion_first_chars_equal
    example = part.examples
    n_rows = part.rows
    prompt_chars = 0
    for line, row in rows:
        index = n_rows
        n_rows += 1
        if not row.keys() <= known:  # a new column (the first row of a kind comes this way)
            for key in row:
                columns.setdefault(key, None)
            if json_data and _other_format(row):
                raise RowError(
                    line,
                    "a chat or preference example in a prompt/completion file",
                    "keep one data format per file",
                )
        completion = row.get(completion_key, "")
        if completion == "":
            empty_rows.append(index)
            continue
        prompt = row.get(prompt_key, "")
        prompt_chars += len(prompt)
        uniques.add(hash(completion))
        digests.append(fingerprint(prompt, completion))
        if len(prompt) + len(completion) > LONG_EXAMPLE_CHARS:
            long_rows.append(example)
        example += 1
        prompt_batch.append(prompt)
        completion_batch.append(completion)
        if first_char is None:
            first_char = completion[0]
        elif same_first and completion[0] != first_char:
            same_first = False
        if len(prompt_batch) >= BATCH:
            part.prompts.add_batch(prompt_batch)
            part.completions.add_batch(completion_batch)
            prompt_batch, completion_batch = [], []
    part.prompts.add_batch(prompt_batch)
    part.completions.add_batch(completion_batch)
    part.rows = n_rows
    part.examples = example
    part.prompt_chars += prompt_chars
    part.first_completion_char = first_char
    part.completion_first_chars_equal = same_first


def rows_of(source: Source, segment: Segment) -> Iterator[tuple[int, Row]]:
    return iter_rows(source) if segment is None else segment_rows(source.path, segment)[1]


def gather_segment(
    source: Source, segment: Segment, prompt_key: str, completion_key: str
) -> SegmentStats:
    """Pass 1 over one segment (a worker's job): a bad row is returned as part.error."""
    part = SegmentStats()
    json_data = source.kind in ("json", "jsonl")
    if segment is None:
        try:
            _accumulate(part, iter_rows(source), prompt_key, completion_key, json_data)
        except RowError as exc:
            raise input_error(source.path, exc.message, line=exc.line, hint=exc.hint) from None
        return part
    part.lines, rows = segment_rows(source.path, segment)
    try:
        _accumulate(part, rows, prompt_key, completion_key, json_data)
    except RowError as exc:
        part.error = (exc.line, exc.message, exc.hint)
    return part


def plan_segments(source: Source, workers: int | None = None) -> tuple[list[Segment], int]:
    """The stretches to read and how many processes to use."""
    if source.layout != "lines":
        return [None], 1
    try:
        found: list[Segment] = [*engine.segments(source.path)]
    except LineTooLong as exc:
        raise line_too_long(source.path, exc.line) from None
    return found, engine.worker_count(source.path.stat().st_size, workers)


def segment_bytes(segment: Segment) -> int:
    return 0 if segment is None else segment[1] - segment[0]


@dataclass
class Stats:
    """Pass 1 over the whole file: the parts merged in order."""

    prompt_key: str = "prompt"
    completion_key: str = "completion"
    rows: int = 0
    columns: dict[str, None] = field(default_factory=dict)
    empty_rows: list[int] = field(default_factory=list)
    examples: int = 0  # rows with a completion
    prompt_chars: int = 0
    unique_completions: int = 0
    duplicate_rows: list[int] = field(default_factory=list)
    long_rows: list[int] = field(default_factory=list)
    first_completion_char: str | None = None
    completion_first_chars_equal: bool = True
    prompts: TextStats = field(default_factory=lambda: TextStats(PROMPT_SEPARATORS))
    completions: TextStats = field(default_factory=lambda: TextStats(COMPLETION_ENDINGS))
    prompt_suffix_repeated: bool = False
    completion_suffix_repeated: bool = False
    segments: list[Segment] = field(default_factory=list)
    segment_examples: list[int] = field(default_factory=list)
    workers: int = 1

    @property
    def task(self) -> str:
        return task_of(self.prompt_chars > 0, self.unique_completions, self.examples)

    def add(self, part: SegmentStats, seen: set[int]) -> None:
        """Merge the next segment's part (seen: the fingerprints met so far)."""
        for key in part.columns:
            self.columns.setdefault(key, None)
        self.empty_rows.extend(self.rows + i for i in part.empty_rows)
        base = self.examples
        for i, fingerprint in enumerate(part.digests):
            if fingerprint in seen:
                self.duplicate_rows.append(base + i)
            else:
                seen.add(fingerprint)
        self.long_rows.extend(base + i for i in part.long_rows)
        self.prompts.merge(part.prompts)
        self.completions.merge(part.completions)
        if part.first_completion_char is not None:
            if self.first_completion_char is None:
                self.first_completion_char = part.first_completion_char
                self.completion_first_chars_equal = part.completion_first_chars_equal
            elif (
                not part.completion_first_chars_equal
                or part.first_completion_char != self.first_completion_char
            ):
                self.completion_first_chars_equal = False
        self.rows += part.rows
        self.examples += part.examples
        self.prompt_chars += part.prompt_chars
        self.segment_examples.append(part.examples)


def gather(
    source: Source,
    prompt_key: str,
    completion_key: str,
    workers: int | None = None,
    progress: Progress | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Stats:
    """Pass 1 over the file, in workers for big JSON Lines files (meanwhile: see run_parts)."""
    found, n_workers = plan_segments(source, workers)
    stats = Stats(
        prompt_key=prompt_key, completion_key=completion_key, segments=found, workers=n_workers
    )
    seen: set[int] = set()
    uniques: set[int] = set()
    line_offset = 0
    done = 0
    jobs = [(source, segment, prompt_key, completion_key) for segment in found]
    parts = engine.run_parts(gather_segment, jobs, n_workers, lambda: None, meanwhile)
    for segment in found:
        try:
            part = next(parts)
        except LineTooLong as exc:
            raise line_too_long(source.path, line_offset + exc.line) from None
        if part.error is not None:
            line, message, hint = part.error
            raise input_error(source.path, message, line=line_offset + line, hint=hint)
        stats.add(part, seen)
        uniques |= part.completion_hashes
        line_offset += part.lines
        done += segment_bytes(segment)
        if progress is not None and segment is not None:
            progress(done)
    stats.unique_completions = len(uniques)
    return stats


def suffix_repeats_segment(
    source: Source,
    segment: Segment,
    keys: tuple[str, str],
    suffixes: tuple[str, str],
) -> tuple[bool, bool]:
    """Whether a prompt (completion) of the segment holds the common suffix before its end."""
    prompt_key, completion_key = keys
    prompt_suffix, completion_suffix = suffixes
    prompt_repeats = completion_repeats = False
    for _line, row in rows_of(source, segment):
        completion = row.get(completion_key, "")
        if completion == "":
            continue
        prompt = row.get(prompt_key, "")
        if prompt_suffix and not prompt_repeats and prompt_suffix in prompt[: -len(prompt_suffix)]:
            prompt_repeats = True
        if (
            completion_suffix
            and not completion_repeats
            and completion_suffix in completion[: -len(completion_suffix)]
        ):
            completion_repeats = True
        if (prompt_repeats or not prompt_suffix) and (completion_repeats or not completion_suffix):
            break
    return prompt_repeats, completion_repeats


def find_suffix_repeats(source: Source, stats: Stats) -> None:
    """Whether a prompt (completion) holds the common suffix before its end: one more pass, run
    only when there is a common suffix to look for."""
    keys = (stats.prompt_key, stats.completion_key)
    suffixes = (stats.prompts.suffix or "", stats.completions.suffix or "")
    jobs = [(source, segment, keys, suffixes) for segment in stats.segments]
    for prompt_repeats, completion_repeats in engine.run_parts(
        suffix_repeats_segment, jobs, stats.workers, lambda: None
    ):
        stats.prompt_suffix_repeated |= prompt_repeats
        stats.completion_suffix_repeated |= completion_repeats
