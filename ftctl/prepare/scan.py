"""Streaming check of a JSONL training file: constant memory per worker, both cores on big files.

The file is cut into byte ranges that end on a newline. Each range is parsed, checked and counted
on its own (in a worker process when the file is big enough to pay for one), and the results are
merged in order, so line numbers, first-error samples and totals are the same however the file was
cut. Only three small integers per example are kept (for the distributions), never the examples.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ftctl.prepare import engine
from ftctl.prepare.engine import BadLine
from ftctl.prepare.files import LineTooLong, check_input_path, line_too_long
from ftctl.prepare.records import Issue, check_record, record_format

SAMPLES_PER_CATEGORY = 5

Progress = Callable[[int, int], None]


@dataclass
class ChunkResult:
    lines: int = 0
    examples: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[tuple[int, str | None, str]]] = field(default_factory=dict)
    tokens: array[int] = field(default_factory=lambda: array("I"))
    assistant_tokens: array[int] = field(default_factory=lambda: array("I"))
    messages: array[int] = field(default_factory=lambda: array("I"))
    nbytes: int = 0


@dataclass
class ScanResult:
    path: Path
    format: str
    examples: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[tuple[int | None, str | None, str]]] = field(default_factory=dict)
    tokens: array[int] = field(default_factory=lambda: array("I"))
    assistant_tokens: array[int] = field(default_factory=lambda: array("I"))
    messages: array[int] = field(default_factory=lambda: array("I"))

    def add_problem(self, category: str, line: int | None, fld: str | None, msg: str) -> None:
        self.counts[category] = self.counts.get(category, 0) + 1
        found = self.samples.setdefault(category, [])
        if len(found) < SAMPLES_PER_CATEGORY:
            found.append((line, fld, msg))

    def problem_lines(self, limit_per_category: int = SAMPLES_PER_CATEGORY) -> list[str]:
        """One "file:line: field: message" line per sampled problem, first lines first, plus a
        count line for each category with more problems than were sampled."""
        found_lines: list[tuple[int, str]] = []
        tails: list[str] = []
        for category, found in self.samples.items():
            for line, fld, msg in found[:limit_per_category]:
                where = f"{self.path}:{line}" if line is not None else str(self.path)
                what = f"{fld}: {msg}" if fld else msg
                found_lines.append((line or 0, f"{where}: {what} [{category}]"))
            more = self.counts[category] - min(len(found), limit_per_category)
            if more > 0:
                tails.append(f"{self.path}: {more} more line(s) with {category}")
        found_lines.sort(key=lambda item: item[0])
        return [text for _, text in found_lines] + tails


def detect_format(path: Path) -> str | None:
    """The format of the first example that has one (chat, preference, prompt_completion)."""
    try:
        for _number, raw in engine.first_values(path):
            try:
                fmt = record_format(json.loads(raw))
            except (ValueError, RecursionError):
                continue
            if fmt is not None:
                return fmt
    except LineTooLong:
        return None  # the scan refuses the line, with its number
    return None


def scan_chunk(path: str, start: int, end: int, fmt: str, encoding_name: str | None) -> ChunkResult:
    """Check and count the lines in bytes [start, end) of path (start is a line start)."""
    counter = engine.token_counter(encoding_name)
    result = ChunkResult(nbytes=end - start)
    counts = result.counts
    samples = result.samples

    def problem(line: int, issue: Issue) -> None:
        counts[issue.category] = counts.get(issue.category, 0) + 1
        found = samples.setdefault(issue.category, [])
        if len(found) < SAMPLES_PER_CATEGORY:
            found.append((line, issue.field, issue.message))

    lines = engine.read_segment(Path(path), (start, end))
    result.lines = len(lines)
    tokens, assistant, messages = result.tokens, result.assistant_tokens, result.messages
    for number, value in engine.parse_lines(lines):
        result.examples += 1
        if type(value) is BadLine:
            problem(number, Issue("invalid_json", None, value.message))
            tokens.append(0)
            assistant.append(0)
            messages.append(0)
            continue
        rec = check_record(value, fmt, counter)
        for issue in rec.issues:
            problem(number, issue)
        tokens.append(rec.tokens)
        assistant.append(rec.assistant_tokens)
        messages.append(rec.messages)
    return result


def scan_jsonl(
    path: Path,
    encoding_name: str | None,
    *,
    fmt: str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    chunk_bytes: int | None = None,
) -> ScanResult:
    """Check every line of a JSONL training file and count its tokens with encoding_name (None to
    skip counting). fmt defaults to the format of the file's first recognisable line."""
    size = check_input_path(path)
    if fmt is None:
        fmt = detect_format(path) or "chat"
    result = ScanResult(path=path, format=fmt)
    try:
        found = engine.segments(path, chunk_bytes)
    except LineTooLong as exc:
        raise line_too_long(path, exc.line) from None
    jobs = [(str(path), start, end, fmt, encoding_name) for start, end in found]
    n_workers = engine.worker_count(size, workers)
    chunks = (
        # a big file's encoder is built in the workers' host (one worker or more), not here
        engine.run_hosted(scan_chunk, jobs, n_workers, encoding_name)
        if n_workers > 1 or engine.hosted(size, workers)
        else engine.run_parts(
            scan_chunk, jobs, n_workers, lambda: engine.token_counter(encoding_name)
        )
    )
    line_offset = 0
    done = 0
    for _segment in found:
        try:
            chunk = next(chunks)
        except LineTooLong as exc:
            raise line_too_long(path, line_offset + exc.line) from None
        for category, samples in chunk.samples.items():
            result.counts[category] = result.counts.get(category, 0) + chunk.counts[category]
            have = result.samples.setdefault(category, [])
            for line, fld, msg in samples:
                if len(have) < SAMPLES_PER_CATEGORY:
                    have.append((line + line_offset, fld, msg))
        result.examples += chunk.examples
        result.tokens.extend(chunk.tokens)
        result.assistant_tokens.extend(chunk.assistant_tokens)
        result.messages.extend(chunk.messages)
        line_offset += chunk.lines
        done += chunk.nbytes
        if progress is not None:
            progress(done, size)
    return result
