"""The checks and fixes of the legacy `openai tools fine_tunes.prepare_data`, for prompt/completion
data, in its order, with its thresholds and messages; rewritten to stream.

Like the legacy tool, every check looks at the data with only the *necessary* fixes applied (column
names lower-cased, extra columns and empty completions dropped); the *recommended* fixes the user
accepts are then applied in order. Here that is two passes over the file (ftctl.prepare.passes,
in two worker processes for big JSON Lines files): `analyze` gathers what every check needs
(counts, common prefixes and suffixes, a 128-bit fingerprint per row to spot duplicates) and
`write_prepared` re-reads the file, fixing each row on its way to the output. Memory holds the
fingerprints, never the rows. Where the legacy tool erred, ftctl does what it meant to: its
"additional columns" warning fires only for columns named like `prompt`/`completion`, examples
over 10,000 characters are dropped by position even after duplicates were, and classification
advice names `babbage-002` (the tool named the retired `ada`).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ftctl.errors import InputError
from ftctl.prepare.passes import (
    COMPLETION_ENDINGS,
    LONG_EXAMPLE_CHARS,
    PROMPT_SEPARATORS,
    Plan,
    Segment,
    TextStats,
    Written,
    case_counts,
    common_prefix,
    common_suffix,
    fix_rows,
    gather_part,
    run_parts,
    segments,
    suffix_repeats_part,
    transform_part,
)
from ftctl.prepare.readers import Source, iter_rows
from ftctl.prepare.writer import atomic_files, prepared_names

# re-exported: the pure helpers tests and callers use
__all__ = ["LONG_EXAMPLE_CHARS", "case_counts", "common_prefix", "common_suffix"]

MIN_EXAMPLES = 100
MAX_PROMPT_PREFIX = 12
MIN_COMPLETION_PREFIX = 5
LONG_SUFFIX = 10
CLASSIFICATION_RATIO = 3
MAX_VALID_EXAMPLES = 1000
SPLIT_SEED = 42
SHOWN_ROWS = 100

PROMPT_SEPARATOR_FALLBACK = "\n\n### =>\n\n"
COMPLETION_ENDING_FALLBACK = " [END]"

DOCS = "https://platform.openai.com/docs/guides/fine-tuning/preparing-your-dataset"

OPEN_ENDED = "open-ended generation"
CLASSIFICATION = "classification"
CONDITIONAL = "conditional generation"

Progress = Callable[[int], None]  # bytes of the file done in this pass, for a progress bar


def part_bytes(seg: Segment) -> int:
    return 0 if seg is None else seg[1] - seg[0]


def _advance(progress: Progress | None, done: int, more: int) -> int:
    if progress is None or not more:
        return done
    progress(done + more)
    return done + more


# Action keys, in the order the legacy tool offers them.
READ = "read_format"
LOWER_PROMPT_COLUMN = "prompt_column_case"
LOWER_COMPLETION_COLUMN = "completion_column_case"
EXTRA_COLUMNS = "additional_columns"
EMPTY_COMPLETIONS = "empty_completions"
DUPLICATES = "duplicated_rows"
LONG_EXAMPLES = "long_examples"
LOWERCASE_PROMPTS = "lowercase_prompts"
LOWERCASE_COMPLETIONS = "lowercase_completions"
PROMPT_SUFFIX = "prompt_separator"
PROMPT_PREFIX = "prompt_prefix"
COMPLETION_PREFIX = "completion_prefix"
COMPLETION_SUFFIX = "completion_ending"
COMPLETION_SPACE = "completion_space"


def shown(text: str) -> str:
    """How the legacy tool displays a separator: newlines as `\\n`."""
    return text.replace("\n", "\\n")


def _rows_list(rows: list[int]) -> str:
    if len(rows) <= SHOWN_ROWS:
        return str(rows)
    return str(rows[:SHOWN_ROWS])[:-1] + f", ... ({len(rows) - SHOWN_ROWS} more)]"


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
        if self.prompt_chars == 0:
            return OPEN_ENDED
        if self.unique_completions < self.examples / CLASSIFICATION_RATIO:
            return CLASSIFICATION
        return CONDITIONAL


def _gather(
    src: Source,
    prompt_key: str,
    completion_key: str,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Stats:
    segs, n_workers = segments(src, workers)
    done = 0
    st = Stats(prompt_key=prompt_key, completion_key=completion_key, segments=segs)
    st.workers = n_workers
    seen: set[int] = set()
    uniques: set[int] = set()
    line_offset = 0
    jobs = [(src, seg, prompt_key, completion_key) for seg in segs]
    for part in run_parts(gather_part, jobs, n_workers, lambda: None):
        if part.error is not None:
            line, message, hint = part.error
            raise InputError(src.path, message, line=line_offset + line, hint=hint)
        for key in part.columns:
            st.columns.setdefault(key, None)
        st.empty_rows.extend(st.rows + i for i in part.empty_rows)
        base = st.examples
        for i, d in enumerate(part.digests):
            if d in seen:
                st.duplicate_rows.append(base + i)
            else:
                seen.add(d)
        st.long_rows.extend(st.examples + i for i in part.long_rows)
        uniques |= part.completion_hashes
        st.prompts.merge(part.prompts)
        st.completions.merge(part.completions)
        if part.first_completion_char is not None:
            if st.first_completion_char is None:
                st.first_completion_char = part.first_completion_char
                st.completion_first_chars_equal = part.completion_first_chars_equal
            elif (
                not part.completion_first_chars_equal
                or part.first_completion_char != st.first_completion_char
            ):
                st.completion_first_chars_equal = False
        st.rows += part.rows
        st.examples += part.examples
        st.prompt_chars += part.prompt_chars
        st.segment_examples.append(part.examples)
        line_offset += part.lines
        done = _advance(progress, done, part_bytes(segs[len(st.segment_examples) - 1]))
    st.unique_completions = len(uniques)
    return st


def _suffix_repeats(src: Source, st: Stats) -> None:
    """Whether a prompt (completion) holds the common suffix before its end: one more pass, run
    only when there is a common suffix to look for."""
    ps, cs = st.prompts.suffix or "", st.completions.suffix or ""
    jobs = [(src, seg, st.prompt_key, st.completion_key, ps, cs) for seg in st.segments]
    for p_rep, c_rep in run_parts(suffix_repeats_part, jobs, st.workers, lambda: None):
        st.prompt_suffix_repeated |= p_rep
        st.completion_suffix_repeated |= c_rep


@dataclass(frozen=True)
class Action:
    """One fix: necessary (always applied) or recommended (applied if accepted)."""

    key: str
    message: str
    necessary: bool = False


@dataclass
class Analysis:
    source: Source
    stats: Stats
    messages: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    error: str | None = None
    error_field: str | None = None
    error_category: str = ""
    prompt_separator: str = ""  # suggested
    completion_ending: str = ""  # suggested
    prompt_prefix: str = ""
    completion_prefix: str = ""

    @property
    def task(self) -> str:
        return self.stats.task

    @property
    def recommended(self) -> list[Action]:
        return [a for a in self.actions if not a.necessary]

    @property
    def necessary(self) -> list[Action]:
        return [a for a in self.actions if a.necessary]


def _resolve(columns: dict[str, None], name: str) -> str | None:
    if name in columns:
        return name
    for column in columns:
        if column.lower() == name:
            return column
    return None


def analyze(src: Source, workers: int | None = None, progress: Progress | None = None) -> Analysis:
    """Run every check on src. Stops at the first fatal problem (Analysis.error), as the legacy
    tool did; messages gathered until then are kept."""
    st = _gather(src, "prompt", "completion", workers, progress)
    pk = _resolve(st.columns, "prompt") or "prompt"
    ck = _resolve(st.columns, "completion") or "completion"
    if (pk, ck) != ("prompt", "completion"):
        st_columns = st.columns
        st = _gather(src, pk, ck, workers)
        st.columns = st_columns
    an = Analysis(source=src, stats=st)
    say = an.messages.append

    # how the file was read
    if src.kind in ("csv", "tsv"):
        name = src.kind.upper()
        say(f"- Based on your file extension, your file is formatted as a {name} file")
        an.actions.append(Action(READ, f"Your format `{name}` will be converted to `JSONL`", True))
    elif src.kind == "xlsx":
        text = "- Based on your file extension, your file is formatted as an Excel file"
        if src.sheets > 1:
            text += (
                "\n- Your Excel file contains more than one sheet. Please either save as csv or "
                "ensure all data is present in the first sheet. WARNING: Reading only the first "
                "sheet..."
            )
        say(text)
        an.actions.append(Action(READ, "Your format `XLSX` will be converted to `JSONL`", True))
    elif src.kind == "txt":
        say("- Based on your file extension, you provided a text file")
        an.actions.append(Action(READ, "Your format `TXT` will be converted to `JSONL`", True))
    elif src.kind == "jsonl" and src.layout == "array":
        say(
            "- Your JSONL file appears to be in a JSON format. Your file will be converted to "
            "JSONL format"
        )
        an.actions.append(Action(READ, "Your format `JSON` will be converted to `JSONL`", True))
    elif src.kind == "json" and src.layout == "lines" and st.rows > 1:
        say(
            "- Your JSON file appears to be in a JSONL format. Your file will be converted to "
            "JSONL format"
        )
        an.actions.append(Action(READ, "Your format `JSON` will be converted to `JSONL`", True))

    # 1. number of examples
    advice = (
        ""
        if st.rows >= MIN_EXAMPLES
        else ". In general, we recommend having at least a few hundred examples. We've found "
        "that performance tends to linearly increase for every doubling of the number of examples"
    )
    say(f"- Your file contains {st.rows} prompt-completion pairs{advice}")

    if st.rows == 0:
        an.error = "the file holds no examples"
        an.error_category = "no_examples"
        return an

    # 2. the prompt and completion columns
    for name, key, action in (
        ("prompt", pk, LOWER_PROMPT_COLUMN),
        ("completion", ck, LOWER_COMPLETION_COLUMN),
    ):
        if key not in st.columns:
            an.error = (
                f"`{name}` column/key is missing. Please make sure you name your columns/keys "
                "appropriately, then retry"
            )
            an.error_field = name
            an.error_category = f"missing_{name}_column"
            return an
        if key != name:
            say(f"- The `{name}` column/key should be lowercase")
            an.actions.append(Action(action, f"Lower case column name to `{name}`", True))

    # 3. extra columns
    extra = [c for c in st.columns if c not in (pk, ck)]
    if extra:
        warn = ""
        for name in ("prompt", "completion"):
            if any(name in c.lower() for c in extra):
                warn += (
                    f"\n  WARNING: Some of the additional columns/keys contain `{name}` in their "
                    f"name. These will be ignored, and the column/key `{name}` will be used "
                    "instead. This could also result from a duplicate column/key in the provided "
                    "file."
                )
        say(
            "- The input file should contain exactly two columns/keys per row. Additional "
            f"columns/keys present are: {extra}{warn}"
        )
        an.actions.append(Action(EXTRA_COLUMNS, f"Remove additional columns/keys: {extra}", True))

    # 4. empty completions
    if st.empty_rows:
        say(
            "- `completion` column/key should not contain empty strings. These are rows: "
            f"{_rows_list(st.empty_rows)}"
        )
        an.actions.append(
            Action(
                EMPTY_COMPLETIONS, f"Remove {len(st.empty_rows)} rows with empty completions", True
            )
        )
    if st.examples == 0:
        an.error = "no example has a completion: there is nothing to train on"
        an.error_field = "completion"
        an.error_category = "no_examples"
        return an

    # 5. the task
    task = st.task
    if task == CLASSIFICATION:
        say(
            "- Based on your data it seems like you're trying to fine-tune a model for "
            "classification\n- For classification, we recommend you try one of the faster and "
            "cheaper models, such as `babbage-002`\n- For classification, you can estimate the "
            "expected model performance by keeping a held out dataset, which is not used for "
            "training"
        )

    # 6. duplicates
    if st.duplicate_rows:
        n = len(st.duplicate_rows)
        say(
            f"- There are {n} duplicated prompt-completion sets. These are rows: "
            f"{_rows_list(st.duplicate_rows)}"
        )
        an.actions.append(Action(DUPLICATES, f"Remove {n} duplicate rows"))

    # 7. long examples
    if task != OPEN_ENDED and st.long_rows:
        n = len(st.long_rows)
        say(
            f"- There are {n} examples that are very long. These are rows: "
            f"{_rows_list(st.long_rows)}\nFor conditional generation, and for classification the "
            "examples shouldn't be longer than 2048 tokens."
        )
        an.actions.append(Action(LONG_EXAMPLES, f"Remove {n} long examples"))

    # 8. upper case
    for name, ts, action in (
        ("prompt", st.prompts, LOWERCASE_PROMPTS),
        ("completion", st.completions, LOWERCASE_COMPLETIONS),
    ):
        if ts.upper * 2 > ts.lower:
            say(
                f"- More than a third of your `{name}` column/key is uppercase. Uppercase {name}s "
                "tends to perform worse than a mixture of case encountered in normal language. We "
                "recommend to lower case the data if that makes sense in your domain. See "
                f"{DOCS} for more details"
            )
            an.actions.append(Action(action, f"Lowercase all your data in column/key `{name}`"))

    need_repeat_check = (task != OPEN_ENDED and bool(st.prompts.suffix)) or (
        task == CONDITIONAL and bool(st.completions.suffix)
    )
    if need_repeat_check:
        _suffix_repeats(src, st)

    # 9. the prompt separator
    if task != OPEN_ENDED:
        suggestion = PROMPT_SEPARATOR_FALLBACK
        for i, sep in enumerate(PROMPT_SEPARATORS):
            if sep == " ->" and st.prompts.has_newline:
                continue
            if not st.prompts.contains[i]:
                suggestion = sep
                break
        an.prompt_separator = suggestion
        suffix = st.prompts.suffix or ""
        if st.prompts.all_equal:
            an.error = (
                f"All prompts are identical: `{shown(suffix)}`. Consider leaving the prompts "
                "blank if you want to do open-ended generation, otherwise ensure prompts are "
                "different"
            )
            an.error_field = "prompt"
            an.error_category = "identical_prompts"
            return an
        if suffix:
            text = f"- All prompts end with suffix `{shown(suffix)}`"
            if len(suffix) > LONG_SUFFIX:
                text += (
                    ". This suffix seems very long. Consider replacing with a shorter suffix, "
                    f"such as `{shown(suggestion)}`"
                )
            if st.prompt_suffix_repeated:
                text += (
                    f"\n  WARNING: Some of your prompts contain the suffix `{suffix}` more than "
                    "once. We strongly suggest that you review your prompts and add a unique "
                    "suffix"
                )
            say(text)
        else:
            say(
                "- Your data does not contain a common separator at the end of your prompts. "
                "Having a separator string appended to the end of the prompt makes it clearer to "
                "the fine-tuned model where the completion should begin. See "
                f"{DOCS} for more detail and examples. If you intend to do open-ended "
                "generation, then you should leave the prompts empty"
            )
            an.actions.append(
                Action(
                    PROMPT_SUFFIX, f"Add a suffix separator `{shown(suggestion)}` to all prompts"
                )
            )

    # 10. a common prompt prefix
    prefix = st.prompts.prefix or ""
    if prefix and not st.prompts.all_equal:
        text = f"- All prompts start with prefix `{prefix}`"
        if len(prefix) > MAX_PROMPT_PREFIX:
            text += (
                ". Fine-tuning doesn't require the instruction specifying the task, or a few-shot "
                "example scenario. Most of the time you should only add the input data into the "
                "prompt, and the desired output into the completion"
            )
            an.prompt_prefix = prefix
            an.actions.append(Action(PROMPT_PREFIX, f"Remove prefix `{prefix}` from all prompts"))
        say(text)

    # 11. a common completion prefix
    cprefix = st.completions.prefix or ""
    if len(cprefix) >= MIN_COMPLETION_PREFIX and not st.completions.all_equal:
        say(
            f"- All completions start with prefix `{cprefix}`. Most of the time you should only "
            "add the output data into the completion, without any prefix"
        )
        an.completion_prefix = cprefix
        an.actions.append(
            Action(COMPLETION_PREFIX, f"Remove prefix `{cprefix}` from all completions")
        )

    # 12. a common completion ending
    if task == CONDITIONAL:
        csuffix = st.completions.suffix or ""
        if st.completions.all_equal:
            an.error = (
                f"All completions are identical: `{csuffix}`. Ensure completions are different, "
                f"otherwise the model will just repeat `{csuffix}`"
            )
            an.error_field = "completion"
            an.error_category = "identical_completions"
            return an
        ending = COMPLETION_ENDING_FALLBACK
        for i, option in enumerate(COMPLETION_ENDINGS):
            if not st.completions.contains[i]:
                ending = option
                break
        an.completion_ending = ending
        if csuffix:
            text = f"- All completions end with suffix `{shown(csuffix)}`"
            if len(csuffix) > LONG_SUFFIX:
                text += (
                    ". This suffix seems very long. Consider replacing with a shorter suffix, "
                    f"such as `{shown(ending)}`"
                )
            if st.completion_suffix_repeated:
                text += (
                    f"\n  WARNING: Some of your completions contain the suffix `{csuffix}` more "
                    "than once. We suggest that you review your completions and add a unique "
                    "ending"
                )
            say(text)
        else:
            say(
                "- Your data does not contain a common ending at the end of your completions. "
                "Having a common ending string appended to the end of the completion makes it "
                "clearer to the fine-tuned model where the completion should end. See "
                f"{DOCS} for more detail and examples."
            )
            an.actions.append(
                Action(
                    COMPLETION_SUFFIX, f"Add a suffix ending `{shown(ending)}` to all completions"
                )
            )

    # 13. completions start with a space
    if not st.completion_first_chars_equal or st.first_completion_char != " ":
        say(
            "- The completion should start with a whitespace character (` `). This tends to "
            "produce better results due to the tokenization we use. See "
            f"{DOCS} for more details"
        )
        an.actions.append(
            Action(
                COMPLETION_SPACE, "Add a whitespace character to the beginning of the completion"
            )
        )
    return an


@dataclass(frozen=True)
class Outcome:
    files: list[Path]
    examples: int
    train_examples: int
    valid_examples: int
    task: str
    prompt_suffix: str
    completion_suffix: str
    n_classes: int
    positive_class: str | None
    tokens: list[int]  # per written example, prompt + completion, when counted
    completion_tokens: list[int]


def split_sizes(n: int) -> tuple[int, int]:
    """(train, valid): at most 1000 validation examples and at least 80% for training."""
    n_train = max(n - MAX_VALID_EXAMPLES, int(n * 0.8))
    return n_train, n - n_train


def dropped(an: Analysis, accepted: set[str]) -> list[int]:
    """Example indexes the accepted fixes remove (duplicates, long examples), sorted."""
    st = an.stats
    drop: set[int] = set()
    if DUPLICATES in accepted:
        drop.update(st.duplicate_rows)
    if LONG_EXAMPLES in accepted and an.task != OPEN_ENDED:
        drop.update(st.long_rows)
    return sorted(drop)


def plan_for(an: Analysis, accepted: set[str]) -> Plan:
    st = an.stats
    return Plan(
        prompt_key=st.prompt_key,
        completion_key=st.completion_key,
        lower_prompts=LOWERCASE_PROMPTS in accepted,
        lower_completions=LOWERCASE_COMPLETIONS in accepted,
        separator=an.prompt_separator if PROMPT_SUFFIX in accepted else "",
        prompt_cut=len(an.prompt_prefix) if PROMPT_PREFIX in accepted else 0,
        completion_prefix=an.completion_prefix if COMPLETION_PREFIX in accepted else "",
        ending=an.completion_ending if COMPLETION_SUFFIX in accepted else "",
        space=COMPLETION_SPACE in accepted,
    )


def fixed_rows(an: Analysis, accepted: set[str]) -> Iterator[tuple[str, str]]:
    """The rows with the necessary fixes and the accepted recommendations applied."""
    drop = set(dropped(an, accepted))
    for k, p, c in fix_rows(iter_rows(an.source), plan_for(an, accepted)):
        if k not in drop:
            yield p, c


def _jobs(
    an: Analysis,
    plan: Plan,
    drop: list[int],
    valid: set[int],
    parts_stem: Path,
    split: bool,
    encoding_name: str | None,
    unique_cap: int,
) -> tuple[list[tuple[object, ...]], list[tuple[str, str | None]]]:
    import bisect

    st = an.stats
    jobs: list[tuple[object, ...]] = []
    parts: list[tuple[str, str | None]] = []
    offset = 0
    for i, (seg, seg_examples) in enumerate(zip(st.segments, st.segment_examples, strict=True)):
        lo = bisect.bisect_left(drop, offset)
        hi = bisect.bisect_left(drop, offset + seg_examples)
        local_drop = frozenset(d - offset for d in drop[lo:hi])
        final_offset = offset - lo
        kept = seg_examples - (hi - lo)
        local_valid = frozenset(v for v in valid if final_offset <= v < final_offset + kept)
        out = (f"{parts_stem}.{i}.t", f"{parts_stem}.{i}.v" if split else None)
        parts.append(out)
        job = (an.source, seg, plan, local_drop, local_valid, final_offset, out, encoding_name)
        jobs.append((*job, unique_cap))
        offset += seg_examples
    return jobs, parts


def write_prepared(
    an: Analysis,
    accepted: set[str],
    split: bool,
    encoding_name: str | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Write `<name>_prepared.jsonl` (or the train/valid pair) beside the input, atomically, and
    count each written example's tokens with encoding_name (None: do not count)."""

    from ftctl.prepare.scan import _counter

    st = an.stats
    drop = dropped(an, accepted)
    n = st.examples - len(drop)
    targets = prepared_names(an.source.path, split)
    valid: set[int] = set()
    if split:
        _n_train, n_valid = split_sizes(n)
        valid = set(random.Random(SPLIT_SEED).sample(range(n), n_valid))
    plan = plan_for(an, accepted)
    unique_cap = max(1, n // CLASSIFICATION_RATIO + 1)
    results: list[Written] = []
    done = 0
    with atomic_files(targets) as writers:
        stem = writers[0].target.parent / f".{writers[0].target.name}.{os.getpid()}.part"
        jobs, parts = _jobs(an, plan, drop, valid, stem, split, encoding_name, unique_cap)
        try:
            outputs = run_parts(transform_part, jobs, st.workers, lambda: _counter(encoding_name))
            for (train_part, valid_part), written in zip(parts, outputs, strict=True):
                results.append(written)
                done = _advance(progress, done, part_bytes(st.segments[len(results) - 1]))
                for part_path, writer in ((train_part, writers[0]), (valid_part, writers[-1])):
                    if part_path is None:
                        continue
                    writer.append_file(part_path)
                    os.unlink(part_path)
        finally:
            for pair in parts:
                for part_path in pair:
                    if part_path is not None and os.path.exists(part_path):
                        os.unlink(part_path)
    count = sum(w.count for w in results)
    prompt_suffix: str | None = None
    completion_suffix: str | None = None
    uniques: Counter[str] = Counter()
    for w in results:
        if w.prompt_suffix is None or w.completion_suffix is None:
            continue
        if prompt_suffix is None or completion_suffix is None:
            prompt_suffix, completion_suffix = w.prompt_suffix, w.completion_suffix
        else:
            prompt_suffix = common_suffix(prompt_suffix, w.prompt_suffix)
            completion_suffix = common_suffix(completion_suffix, w.completion_suffix)
        if len(uniques) <= unique_cap:
            uniques.update(w.uniques)
    if not any(w.any_prompt for w in results):
        task = OPEN_ENDED
    elif len(uniques) < count / CLASSIFICATION_RATIO:
        task = CLASSIFICATION
    else:
        task = CONDITIONAL
    two = task == CLASSIFICATION and len(uniques) == 2
    n_valid_written = sum(w.valid for w in results)
    return Outcome(
        files=[w.target for w in writers],
        examples=count,
        train_examples=count - n_valid_written,
        valid_examples=n_valid_written,
        task=task,
        prompt_suffix=prompt_suffix or "",
        completion_suffix=completion_suffix or "",
        n_classes=len(uniques) if task == CLASSIFICATION else 0,
        positive_class=uniques.most_common(1)[0][0] if two else None,
        tokens=[t for w in results for t in w.tokens],
        completion_tokens=[t for w in results for t in w.completion_tokens],
    )


def to_chat_rows(an: Analysis, system: str | None) -> Iterator[dict[str, list[dict[str, str]]]]:
    """Prompt/completion rows as chat examples for today's models: the common prompt separator
    and the completion's leading space are dropped; empty prompts give no user message."""
    st = an.stats
    common = st.prompts.suffix or "" if an.task != OPEN_ENDED else ""
    known = (*PROMPT_SEPARATORS, PROMPT_SEPARATOR_FALLBACK)
    sep = max((s for s in known if common.endswith(s)), key=len, default="")
    for _line, row in iter_rows(an.source):
        c = row.get(st.completion_key, "")
        if c == "":
            continue
        p = row.get(st.prompt_key, "")
        if sep:
            p = p.removesuffix(sep)
        c = c.removeprefix(" ")
        messages = []
        if system:
            messages.append({"role": "system", "content": system})
        if p:
            messages.append({"role": "user", "content": p})
        messages.append({"role": "assistant", "content": c})
        yield {"messages": messages}
