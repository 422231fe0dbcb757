"""The two passes of the legacy checks over prompt/completion data, cut into stretches of the file
that worker processes handle side by side (JSON Lines files big enough to pay for it), or read in
one stretch (every other layout, and small files).

Pass 1 (`gather`) learns what the checks need; its parts merge in file order, so results are the
same however the file was cut. Pass 2 (`transform`) fixes each row, writes it to a part file and
counts its tokens; the parent joins the parts in order.
"""

from __future__ import annotations

import json
import json.scanner
import os
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from ftctl.errors import InputError
from ftctl.prepare.readers import Row, Source, iter_rows, line_aligned_ranges

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
BATCH = 1024
CHUNK_BYTES = 4 << 20
PARALLEL_MIN_BYTES = 8 << 20

Segment = tuple[int, int] | None  # a byte range of a JSON Lines file; None: the whole source
T = TypeVar("T")


class RowError(Exception):
    """A bad row inside a segment, located by its line within the segment."""

    def __init__(self, line: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.hint = hint


_NOT_UPPER = bytes(b for b in range(256) if not 65 <= b <= 90)
_NOT_LOWER = bytes(b for b in range(256) if not 97 <= b <= 122)
_ASCII = bytes(range(128))


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


_M64 = (1 << 64) - 1


def digest(prompt: str, completion: str) -> int:
    """A 128-bit fingerprint of a row: two keyed SipHash values of the pair (Python's own string
    hashing, whose key forked workers share), so telling rows apart needs no copy of them."""
    return ((hash((prompt, completion)) & _M64) << 64) | (hash((completion, prompt, 1)) & _M64)


def _odd_row(row: Row) -> bool:
    return "messages" in row or "preferred_output" in row or "non_preferred_output" in row


@dataclass
class TextStats:
    """What the checks need to know about one column. Texts are buffered and looked at in
    batches (one joined string per batch for the substring and letter-case checks), so the per-row
    cost is a list append; call finish() before reading the fields."""

    seps: tuple[str, ...]
    upper: int = 0
    lower: int = 0
    prefix: str | None = None
    suffix: str | None = None
    first: str | None = None
    all_equal: bool = True
    has_newline: bool = False
    contains: list[bool] = field(default_factory=list)
    buffer: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self.contains:
            self.contains = [False] * len(self.seps)

    def add(self, text: str) -> None:
        self.buffer.append(text)
        if len(self.buffer) >= BATCH:
            self.finish()

    def add_batch(self, texts: list[str]) -> None:
        """add() each of texts (the list is kept: do not change it afterwards)."""
        if self.buffer:
            self.buffer.extend(texts)
        else:
            self.buffer = texts
        self.finish()

    def finish(self) -> None:
        buf = self.buffer
        if not buf:
            return
        self.buffer = []
        joined = "\x00".join(buf)  # no separator holds NUL, so none spans two texts
        up, lo = case_counts(joined)
        self.upper += up
        self.lower += lo
        if not self.has_newline and "\n" in joined:
            self.has_newline = True
        contains = self.contains
        for i, sep in enumerate(self.seps):
            if not contains[i] and sep in joined:
                contains[i] = True
        if self.prefix is None or self.suffix is None:
            self.prefix = self.suffix = self.first = buf[0]
        if self.all_equal and buf.count(self.first or "") != len(buf):
            self.all_equal = False
        prefix = self.prefix
        if prefix:
            lo_text, hi_text = min(buf), max(buf)  # the common prefix of all is theirs
            self.prefix = common_prefix(common_prefix(prefix, lo_text), hi_text)
        suffix = self.suffix
        if suffix:
            for text in buf:
                if not text.endswith(suffix):
                    suffix = common_suffix(suffix, text)
                    if not suffix:
                        break
            self.suffix = suffix

    def merge(self, other: TextStats) -> None:
        self.finish()
        other.finish()
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
class Part:
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
    error: tuple[int, str, str | None] | None = None


_BOM = b"\xef\xbb\xbf"
_JSON_SPACE = " \t\n\r"  # what json.loads allows around a value
_ASCII_SPACE = " \t\n\r\x0b\x0c"  # what bytes.strip() strips
# json.loads's own value scanner (the C one), configured as json.loads configures it
_scan_once: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    cast(Any, json.JSONDecoder())
)


def _decoded(data: bytes) -> str | None:
    """data as text when every line of it is text that json.loads would decode as UTF-8 (no NUL
    byte, no BOM: json.loads sniffs those for UTF-16/32 or a BOM per line), else None."""
    if b"\x00" in data or _BOM in data:
        return None
    try:
        return data.decode("utf-8", "surrogatepass")  # json.loads's decoding of bytes
    except UnicodeDecodeError:
        return None


def _check_row(number: int, obj: object) -> Row:
    if type(obj) is not dict:
        raise RowError(number, "each record must be a JSON object")
    for v in obj.values():
        if type(v) is not str:
            from ftctl.prepare.readers import _text

            return {str(k): _text(v) for k, v in obj.items()}
    return obj


def _text_rows(lines: list[str]) -> Iterator[tuple[int, Row]]:
    """The rows of decoded lines, each parsed exactly as json.loads parses it: the C scanner
    json.loads runs, called directly; json.loads itself for a line the scanner does not take
    whole (surrounding whitespace, bad JSON: its error message)."""
    scan = _scan_once
    loads = json.loads
    for number, line in enumerate(lines, 1):
        try:
            obj, end = scan(line, 0)
        except (StopIteration, ValueError):  # no value at 0, or bad JSON: json.loads tells
            end = -1
        if end != len(line):
            if not line.strip(_ASCII_SPACE):
                continue
            if end < 0 or len(line.rstrip(_JSON_SPACE)) != end:
                try:
                    obj = loads(line)
                except ValueError as exc:
                    raise RowError(number, f"not valid JSON ({exc.args[0]})") from None
        if type(obj) is dict:
            for v in obj.values():
                if type(v) is not str:
                    obj = _check_row(number, obj)
                    break
            yield number, obj
        else:
            yield number, _check_row(number, obj)


def _byte_rows(lines: list[bytes]) -> Iterator[tuple[int, Row]]:
    loads = json.loads
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = loads(raw)
        except UnicodeDecodeError:
            raise RowError(number, "not UTF-8 text") from None
        except ValueError as exc:
            raise RowError(number, f"not valid JSON ({exc.args[0]})") from None
        yield number, _check_row(number, obj)


def segment_lines(path: Path, seg: tuple[int, int]) -> tuple[int, Iterator[tuple[int, Row]]]:
    """(physical lines, rows) of the JSON Lines in bytes [start, end) of path."""
    start, end = seg
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    if start == 0 and data.startswith(_BOM):
        data = data[3:]
    text = _decoded(data)
    if text is not None:
        del data
        lines = text.split("\n")
        del text
        if lines and lines[-1] == "":
            lines.pop()
        return len(lines), _text_rows(lines)
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    return len(raw_lines), _byte_rows(raw_lines)


def _accumulate(part: Part, rows: Iterable[tuple[int, Row]], pk: str, ck: str, odd: bool) -> None:
    columns = part.columns
    known = columns.keys()
    uniques = part.completion_hashes
    digests = part.digests
    empty_rows = part.empty_rows
    long_rows = part.long_rows
    prompts, completions = part.prompts, part.completions
    p_buf: list[str] = []
    c_buf: list[str] = []
    first_char = part.first_completion_char
    same_first = part.completion_first_chars_equal
    k = part.examples
    n_rows = part.rows
    prompt_chars = 0
    m64 = _M64
    for line, row in rows:
        index = n_rows
        n_rows += 1
        if not row.keys() <= known:  # a new column (the first row of a kind comes this way)
            for key in row:
                columns.setdefault(key, None)
            if odd and _odd_row(row):
                raise RowError(
                    line,
                    "a chat or preference example in a prompt/completion file",
                    "keep one data format per file",
                )
        completion = row.get(ck, "")
        if completion == "":
            empty_rows.append(index)
            continue
        prompt = row.get(pk, "")
        prompt_chars += len(prompt)
        uniques.add(hash(completion))
        digests.append(  # digest(prompt, completion), inlined
            ((hash((prompt, completion)) & m64) << 64) | (hash((completion, prompt, 1)) & m64)
        )
        if len(prompt) + len(completion) > LONG_EXAMPLE_CHARS:
            long_rows.append(k)
        k += 1
        p_buf.append(prompt)
        c_buf.append(completion)
        if first_char is None:
            first_char = completion[0]
        elif same_first and completion[0] != first_char:
            same_first = False
        if len(p_buf) >= BATCH:
            prompts.add_batch(p_buf)
            completions.add_batch(c_buf)
            p_buf, c_buf = [], []
    prompts.add_batch(p_buf)
    completions.add_batch(c_buf)
    prompts.finish()
    completions.finish()
    part.rows = n_rows
    part.examples = k
    part.prompt_chars += prompt_chars
    part.first_completion_char = first_char
    part.completion_first_chars_equal = same_first


def gather_part(src: Source, seg: Segment, pk: str, ck: str) -> Part:
    part = Part()
    odd = src.kind in ("json", "jsonl")
    if seg is None:
        try:
            _accumulate(part, iter_rows(src), pk, ck, odd)
        except RowError as exc:
            raise InputError(src.path, exc.message, line=exc.line, hint=exc.hint) from None
        return part
    part.lines, rows = segment_lines(src.path, seg)
    try:
        _accumulate(part, rows, pk, ck, odd)
    except RowError as exc:
        part.error = (exc.line, exc.message, exc.hint)
    return part


def segments(src: Source, workers: int | None = None) -> tuple[list[Segment], int]:
    """The stretches to read and how many processes to use."""
    if src.layout != "lines":
        return [None], 1
    size = src.path.stat().st_size
    if workers is None:
        env = os.environ.get("FTCTL_WORKERS", "")
        workers = int(env) if env.isdigit() else min(2, os.cpu_count() or 1)
        if size < PARALLEL_MIN_BYTES:
            workers = 1
    ranges: list[Segment] = [*line_aligned_ranges(src.path, size, CHUNK_BYTES)]
    return (ranges or [(0, 0)]), max(1, workers)


def run_parts(
    func: Callable[..., T], jobs: list[tuple[Any, ...]], workers: int, prime: Callable[[], Any]
) -> Iterator[T]:
    """func(*job) for each job, in order: here, or in forked workers that share what prime()
    loaded (the token encoder) with this process."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield func(*job)
        return
    import gc
    import multiprocessing

    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: one process
        for job in jobs:
            yield func(*job)
        return
    prime()
    gc.collect()
    gc.freeze()
    try:
        with ctx.Pool(workers) as pool:
            yield from pool.imap(_Star(func), jobs, chunksize=1)
    finally:
        gc.unfreeze()


class _Star:
    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, job: tuple[Any, ...]) -> Any:
        return self.func(*job)


def suffix_repeats_part(
    src: Source, seg: Segment, pk: str, ck: str, ps: str, cs: str
) -> tuple[bool, bool]:
    """Whether a prompt (completion) of the segment holds the common suffix before its end."""
    rows = iter_rows(src) if seg is None else segment_lines(src.path, seg)[1]
    p_rep = c_rep = False
    for _line, row in rows:
        completion = row.get(ck, "")
        if completion == "":
            continue
        prompt = row.get(pk, "")
        if ps and not p_rep and ps in prompt[: -len(ps)]:
            p_rep = True
        if cs and not c_rep and cs in completion[: -len(cs)]:
            c_rep = True
        if (p_rep or not ps) and (c_rep or not cs):
            break
    return p_rep, c_rep


@dataclass(frozen=True)
class Plan:
    """The fixes to apply to each row, in the legacy tool's order."""

    prompt_key: str
    completion_key: str
    lower_prompts: bool = False
    lower_completions: bool = False
    separator: str = ""
    prompt_cut: int = 0
    completion_prefix: str = ""
    ending: str = ""
    space: bool = False


@dataclass
class Written:
    count: int = 0
    valid: int = 0
    prompt_suffix: str | None = None
    completion_suffix: str | None = None
    any_prompt: bool = False
    uniques: Counter[str] = field(default_factory=Counter)
    tokens: array[int] = field(default_factory=lambda: array("I"))
    completion_tokens: array[int] = field(default_factory=lambda: array("I"))


def fix_rows(rows: Iterable[tuple[int, Row]], plan: Plan) -> Iterator[tuple[int, str, str]]:
    """(example index, prompt, completion) of every row with a completion, fixed."""
    pk, ck = plan.prompt_key, plan.completion_key
    lower_p, lower_c = plan.lower_prompts, plan.lower_completions
    sep, pcut = plan.separator, plan.prompt_cut
    cprefix = plan.completion_prefix
    ccut = len(cprefix)
    keep_space = cprefix.startswith(" ")
    ending, space = plan.ending, plan.space
    k = -1
    for _line, row in rows:
        c = row.get(ck, "")
        if c == "":
            continue
        k += 1
        p = row.get(pk, "")
        if lower_p:
            p = p.lower()
        if lower_c:
            c = c.lower()
        if sep:
            p += sep
        if pcut:
            p = p[pcut:]
        if ccut:
            c = " " + c[ccut:] if keep_space else c[ccut:]
        if ending:
            c += ending
        if space and not c.startswith(" "):
            c = " " + c
        yield k, p, c


def _write(fh: IO[str], lines: list[str]) -> None:
    """Write lines built from encode_basestring, with `/` spelled `\\/` as pandas does
    (writer.dumps_pandas): no `/` is outside the quoted texts."""
    text = "".join(lines)
    fh.write(text.replace("/", "\\/") if "/" in text else text)


def transform_part(
    src: Source,
    seg: Segment,
    plan: Plan,
    drop: frozenset[int],
    valid: frozenset[int],
    final_offset: int,
    outputs: tuple[str, str | None],
    encoding_name: str | None,
    unique_cap: int,
) -> Written:
    """Pass 2 over one segment: fix, drop (by example index), route to the train or valid part
    file (by final index), count tokens."""
    count_tokens: Callable[[str], int] | None = None
    if encoding_name is not None:
        from ftctl.tokens import word_counter

        count_tokens = word_counter(encoding_name)
    out = Written()
    rows = iter_rows(src) if seg is None else segment_lines(src.path, seg)[1]
    train_fh: IO[str] = open(outputs[0], "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    valid_fh: IO[str] = (
        open(outputs[1], "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        if outputs[1]
        else train_fh
    )
    uniques: dict[str, int] = {}
    tokens, completion_tokens = out.tokens, out.completion_tokens
    position = final_offset
    p_suffix: str | None = None
    c_suffix = ""
    any_prompt = False
    count = n_valid = 0
    pending: list[str] = []  # training lines not yet written
    quote = encode_basestring
    try:
        for k, p, c in fix_rows(rows, plan):
            if k in drop:
                continue
            # prompt_completion_line(p, c) with its `/` escapes left to _write (per batch)
            line = '{"prompt":' + quote(p) + ',"completion":' + quote(c) + "}\n"
            to_valid = position in valid
            position += 1
            if to_valid:
                if pending:
                    _write(train_fh, pending)
                    pending = []
                _write(valid_fh, [line])
                n_valid += 1
            else:
                pending.append(line)
                if len(pending) >= BATCH:
                    _write(train_fh, pending)
                    pending = []
            if p_suffix is None:
                p_suffix, c_suffix = p, c
            else:
                if not p.endswith(p_suffix):
                    p_suffix = common_suffix(p_suffix, p)
                if not c.endswith(c_suffix):
                    c_suffix = common_suffix(c_suffix, c)
            if p:
                any_prompt = True
            if len(uniques) <= unique_cap:
                uniques[c] = uniques.get(c, 0) + 1
            count += 1
            if count_tokens is not None and not to_valid:
                # training tokens: validation examples are not billed
                ct = count_tokens(c)
                tokens.append(count_tokens(p) + ct)
                completion_tokens.append(ct)
        if pending:
            _write(train_fh, pending)
    finally:
        train_fh.close()
        if valid_fh is not train_fh:
            valid_fh.close()
    out.count = count
    out.valid = n_valid
    if p_suffix is not None:
        out.prompt_suffix, out.completion_suffix = p_suffix, c_suffix
    out.any_prompt = any_prompt
    out.uniques.update(uniques)
    return out
