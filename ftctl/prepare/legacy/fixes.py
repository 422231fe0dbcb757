"""Pass 2 of the legacy tool: fix each row on its way to the output, in its order.

Every segment is fixed, split (train/validation) and written to a part file on its own, with each
written example's tokens counted; the parent joins the parts in order into the atomic output.
"""

from __future__ import annotations

import bisect
import os
import random
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ftctl.prepare import engine
from ftctl.prepare.legacy.checks import (
    COMPLETION_PREFIX,
    COMPLETION_SPACE,
    COMPLETION_SUFFIX,
    DUPLICATES,
    LONG_EXAMPLES,
    LOWERCASE_COMPLETIONS,
    LOWERCASE_PROMPTS,
    PROMPT_PREFIX,
    PROMPT_SEPARATOR_FALLBACK,
    PROMPT_SUFFIX,
    Analysis,
)
from ftctl.prepare.legacy.gather import (
    BATCH,
    OPEN_ENDED,
    PROMPT_SEPARATORS,
    Progress,
    Segment,
    common_suffix,
    rows_of,
    segment_bytes,
)
from ftctl.prepare.readers import Row, Source
from ftctl.prepare.writer import atomic_files, prompt_completion_jsonl

MAX_VALID_EXAMPLES = 1000
SPLIT_SEED = 42


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


def plan_for(analysis: Analysis, accepted: set[str]) -> Plan:
    stats = analysis.stats
    return Plan(
        prompt_key=stats.prompt_key,
        completion_key=stats.completion_key,
        lower_prompts=LOWERCASE_PROMPTS in accepted,
        lower_completions=LOWERCASE_COMPLETIONS in accepted,
        separator=analysis.prompt_separator if PROMPT_SUFFIX in accepted else "",
        prompt_cut=len(analysis.prompt_prefix) if PROMPT_PREFIX in accepted else 0,
        completion_prefix=analysis.completion_prefix if COMPLETION_PREFIX in accepted else "",
        ending=analysis.completion_ending if COMPLETION_SUFFIX in accepted else "",
        space=COMPLETION_SPACE in accepted,
    )


def fix_rows(rows: Iterable[tuple[int, Row]], plan: Plan) -> Iterator[tuple[int, str, str]]:
    """(example index, prompt, completion) of every row with a completion, fixed."""
    prompt_key, completion_key = plan.prompt_key, plan.completion_key
    lower_prompts, lower_completions = plan.lower_prompts, plan.lower_completions
    separator, prompt_cut = plan.separator, plan.prompt_cut
    completion_cut = len(plan.completion_prefix)
    keep_space = plan.completion_prefix.startswith(" ")
    ending, space = plan.ending, plan.space
    example = -1
    for _line, row in rows:
        completion = row.get(completion_key, "")
        if completion == "":
            continue
        example += 1
        prompt = row.get(prompt_key, "")
        if lower_prompts:
            prompt = prompt.lower()
        if lower_completions:
            completion = completion.lower()
        if separator:
            prompt += separator
        if prompt_cut:
            prompt = prompt[prompt_cut:]
        if completion_cut:
            completion = completion[completion_cut:]
            if keep_space:
                completion = " " + completion
        if ending:
            completion += ending
        if space and not completion.startswith(" "):
            completion = " " + completion
        yield example, prompt, completion


@dataclass
class Written:
    """Pass 2 over one segment."""

    count: int = 0
    valid: int = 0
    prompt_suffix: str | None = None
    completion_suffix: str | None = None
    tokens: array[int] = field(default_factory=lambda: array("I"))
    completion_tokens: array[int] = field(default_factory=lambda: array("I"))


@dataclass(frozen=True)
class SegmentJob:
    """What a worker needs to fix, split and write one segment."""

    segment: Segment
    drop: frozenset[int]  # example indexes within the segment
    valid: frozenset[int]  # final indexes (over the whole output) that go to validation
    final_offset: int  # final index of the segment's first kept example
    train_part: str
    valid_part: str | None


def _open_part(path: str) -> IO[str]:
    return open(path, "w", encoding="utf-8", newline="\n")


def transform_segment(
    source: Source, plan: Plan, job: SegmentJob, encoding_name: str | None
) -> Written:
    """Pass 2 over one segment: fix, drop (by example index), route to the train or valid part
    file (by final index), count the training examples' tokens."""
    count_tokens: Callable[[str], int] | None = None
    if encoding_name is not None:
        from ftctl.tokens import word_counter

        count_tokens = word_counter(encoding_name)
    out = Written()
    drop, valid = job.drop, job.valid
    tokens, completion_tokens = out.tokens, out.completion_tokens
    position = job.final_offset
    prompt_suffix: str | None = None
    completion_suffix = ""
    count = n_valid = 0
    pending: list[tuple[str, str]] = []  # training examples not yet written
    with _open_part(job.train_part) as train_fh:
        valid_fh = _open_part(job.valid_part) if job.valid_part else train_fh
        try:
            for example, prompt, completion in fix_rows(rows_of(source, job.segment), plan):
                if example in drop:
                    continue
                to_valid = position in valid
                position += 1
                if to_valid:
                    if pending:
                        train_fh.write(prompt_completion_jsonl(pending))
                        pending = []
                    valid_fh.write(prompt_completion_jsonl([(prompt, completion)]))
                    n_valid += 1
                else:
                    pending.append((prompt, completion))
                    if len(pending) >= BATCH:
                        train_fh.write(prompt_completion_jsonl(pending))
                        pending = []
                if prompt_suffix is None:
                    prompt_suffix, completion_suffix = prompt, completion
                else:
                    if not prompt.endswith(prompt_suffix):
                        prompt_suffix = common_suffix(prompt_suffix, prompt)
                    if not completion.endswith(completion_suffix):
                        completion_suffix = common_suffix(completion_suffix, completion)
                count += 1
                if count_tokens is not None and not to_valid:
                    # training tokens: validation examples are not billed
                    n = count_tokens(completion)
                    tokens.append(count_tokens(prompt) + n)
                    completion_tokens.append(n)
            if pending:
                train_fh.write(prompt_completion_jsonl(pending))
        finally:
            if valid_fh is not train_fh:
                valid_fh.close()
    out.count = count
    out.valid = n_valid
    if prompt_suffix is not None:
        out.prompt_suffix, out.completion_suffix = prompt_suffix, completion_suffix
    return out


@dataclass(frozen=True)
class Outcome:
    files: list[Path]
    train_examples: int
    valid_examples: int
    prompt_suffix: str
    completion_suffix: str
    tokens: list[int]  # per training example, prompt + completion, when counted
    completion_tokens: list[int]


def split_sizes(n: int) -> tuple[int, int]:
    """(train, valid): at most 1000 validation examples and at least 80% for training."""
    n_train = max(n - MAX_VALID_EXAMPLES, int(n * 0.8))
    return n_train, n - n_train


def dropped(analysis: Analysis, accepted: set[str]) -> list[int]:
    """Example indexes the accepted fixes remove (duplicates, long examples), sorted."""
    stats = analysis.stats
    drop: set[int] = set()
    if DUPLICATES in accepted:
        drop.update(stats.duplicate_rows)
    if LONG_EXAMPLES in accepted and analysis.task != OPEN_ENDED:
        drop.update(stats.long_rows)
    return sorted(drop)


def _segment_jobs(
    analysis: Analysis, drop: list[int], valid: set[int], parts_stem: Path, split: bool
) -> list[SegmentJob]:
    stats = analysis.stats
    jobs: list[SegmentJob] = []
    offset = 0
    for i, (segment, examples) in enumerate(
        zip(stats.segments, stats.segment_examples, strict=True)
    ):
        lo = bisect.bisect_left(drop, offset)
        hi = bisect.bisect_left(drop, offset + examples)
        final_offset = offset - lo
        kept = examples - (hi - lo)
        jobs.append(
            SegmentJob(
                segment=segment,
                drop=frozenset(d - offset for d in drop[lo:hi]),
                valid=frozenset(v for v in valid if final_offset <= v < final_offset + kept),
                final_offset=final_offset,
                train_part=f"{parts_stem}.{i}.t",
                valid_part=f"{parts_stem}.{i}.v" if split else None,
            )
        )
        offset += examples
    return jobs


def write_prepared(
    analysis: Analysis,
    accepted: set[str],
    targets: list[Path],
    *,
    overwrite: bool = False,
    encoding_name: str | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Write the fixed rows to targets (one file, or train and validation), atomically, counting
    each training example's tokens with encoding_name (None: not counted)."""
    stats = analysis.stats
    split = len(targets) > 1
    drop = dropped(analysis, accepted)
    n = stats.examples - len(drop)
    valid: set[int] = set()
    if split:
        _n_train, n_valid = split_sizes(n)
        valid = set(random.Random(SPLIT_SEED).sample(range(n), n_valid))
    plan = plan_for(analysis, accepted)
    results: list[Written] = []
    done = 0
    with atomic_files(targets, overwrite=overwrite) as writers:
        stem = writers[0].target.parent / f".{writers[0].target.name}.{os.getpid()}.part"
        jobs = _segment_jobs(analysis, drop, valid, stem, split)
        try:
            outputs = engine.run_parts(
                transform_segment,
                [(analysis.source, plan, job, encoding_name) for job in jobs],
                stats.workers,
                lambda: engine.token_counter(encoding_name),
            )
            for job, written in zip(jobs, outputs, strict=True):
                results.append(written)
                done += segment_bytes(job.segment)
                if progress is not None and job.segment is not None:
                    progress(done)
                writers[0].append_file(job.train_part)
                if job.valid_part is not None:
                    writers[-1].append_file(job.valid_part)
        finally:
            for job in jobs:
                for part in (job.train_part, job.valid_part):
                    if part is not None and os.path.exists(part):
                        os.unlink(part)
    prompt_suffix: str | None = None
    completion_suffix: str | None = None
    for w in results:
        if w.prompt_suffix is None or w.completion_suffix is None:
            continue
        if prompt_suffix is None or completion_suffix is None:
            prompt_suffix, completion_suffix = w.prompt_suffix, w.completion_suffix
        else:
            prompt_suffix = common_suffix(prompt_suffix, w.prompt_suffix)
            completion_suffix = common_suffix(completion_suffix, w.completion_suffix)
    count = sum(w.count for w in results)
    n_valid_written = sum(w.valid for w in results)
    return Outcome(
        files=[w.target for w in writers],
        train_examples=count - n_valid_written,
        valid_examples=n_valid_written,
        prompt_suffix=prompt_suffix or "",
        completion_suffix=completion_suffix or "",
        tokens=[t for w in results for t in w.tokens],
        completion_tokens=[t for w in results for t in w.completion_tokens],
    )


def to_chat_rows(
    analysis: Analysis, system: str | None
) -> Iterator[dict[str, list[dict[str, str]]]]:
    """Prompt/completion rows as chat examples for today's models: the common prompt separator
    and the completion's leading space are dropped; empty prompts give no user message."""
    stats = analysis.stats
    common = stats.prompts.suffix or "" if analysis.task != OPEN_ENDED else ""
    known = (*PROMPT_SEPARATORS, PROMPT_SEPARATOR_FALLBACK)
    separator = max((s for s in known if common.endswith(s)), key=len, default="")
    plan = Plan(stats.prompt_key, stats.completion_key)
    for _example, prompt, completion in fix_rows(rows_of(analysis.source, None), plan):
        user = prompt.removesuffix(separator) if separator else prompt
        messages = []
        if system:
            messages.append({"role": "system", "content": system})
        if user:
            messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": completion.removeprefix(" ")})
        yield {"messages": messages}
