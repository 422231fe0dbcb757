"""Streaming check of a JSONL training file: constant memory per worker, both cores on big files.

The file is cut into byte ranges that end on a newline. Each range is parsed, checked and counted
on its own (in a worker process when the file is big enough to pay for one), and the results are
merged in order, so line numbers, first-error samples and totals are the same however the file was
cut. Only three small integers per example are kept (for the distributions), never the examples.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ftctl.errors import InputError
from ftctl.prepare.readers import line_aligned_ranges
from ftctl.prepare.records import (
    Issue,
    TokenCounter,
    check_record,
    record_format,
)

SAMPLES_PER_CATEGORY = 5
CHUNK_BYTES = 4 << 20
PARALLEL_MIN_BYTES = 8 << 20

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


def first_record(path: Path) -> tuple[int, object] | None:
    """(line number, parsed value) of the first non-blank line; None for an empty file. A first
    line that is not JSON is reported by the scan itself, as (line, None)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if raw.strip():
                try:
                    return number, json.loads(raw)
                except ValueError:
                    return number, None
    return None


def detect_format(path: Path) -> str | None:
    """The format of the first example that has one (chat, preference, prompt_completion)."""
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                fmt = record_format(json.loads(raw))
            except ValueError:
                continue
            if fmt is not None:
                return fmt
    return None


_counters: dict[str, TokenCounter] = {}


def _counter(encoding_name: str | None) -> TokenCounter | None:
    if encoding_name is None:
        return None
    counter = _counters.get(encoding_name)
    if counter is None:
        from ftctl.tokens import get_encoding, word_counter

        counter = TokenCounter(
            get_encoding(encoding_name).encode_ordinary, word_counter(encoding_name)
        )
        _counters[encoding_name] = counter
    return counter


def _zero(*arrays: array[int]) -> None:
    for a in arrays:
        a.append(0)


def scan_chunk(path: str, start: int, end: int, fmt: str, encoding_name: str | None) -> ChunkResult:
    """Check and count the lines in bytes [start, end) of path (start is a line start)."""
    counter = _counter(encoding_name)
    result = ChunkResult(nbytes=end - start)
    counts = result.counts
    samples = result.samples

    def problem(line: int, issue: Issue) -> None:
        counts[issue.category] = counts.get(issue.category, 0) + 1
        found = samples.setdefault(issue.category, [])
        if len(found) < SAMPLES_PER_CATEGORY:
            found.append((line, issue.field, issue.message))

    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    result.lines = len(lines)
    del data
    loads = json.loads
    tokens, assistant, messages = result.tokens, result.assistant_tokens, result.messages
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        result.examples += 1
        try:
            obj = loads(raw)
        except UnicodeDecodeError:
            problem(number, Issue("invalid_json", None, "the line is not UTF-8 text"))
            _zero(tokens, assistant, messages)
            continue
        except ValueError as exc:
            problem(number, Issue("invalid_json", None, f"not valid JSON ({exc})"))
            _zero(tokens, assistant, messages)
            continue
        rec = check_record(obj, fmt, counter)
        for issue in rec.issues:
            problem(number, issue)
        tokens.append(rec.tokens)
        assistant.append(rec.assistant_tokens)
        messages.append(rec.messages)
    return result


def _worker_count(size: int) -> int:
    if size < PARALLEL_MIN_BYTES:
        return 1
    env = os.environ.get("FTCTL_WORKERS")
    if env and env.isdigit():
        return max(1, int(env))
    return min(2, os.cpu_count() or 1)


def _chunk_results(
    path: Path,
    fmt: str,
    encoding_name: str | None,
    workers: int,
    chunk_bytes: int,
) -> Iterator[ChunkResult]:
    size = path.stat().st_size
    jobs = [
        (str(path), a, b, fmt, encoding_name)
        for a, b in line_aligned_ranges(path, size, chunk_bytes)
    ]
    from ftctl.prepare.passes import run_parts

    # the encoder is built once, here; forked workers share its pages
    yield from run_parts(scan_chunk, jobs, workers, lambda: _counter(encoding_name))


def scan_jsonl(
    path: Path,
    encoding_name: str | None,
    *,
    fmt: str | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> ScanResult:
    """Check every line of a JSONL training file and count its tokens with encoding_name (None to
    skip counting). fmt defaults to the format of the file's first recognisable line."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    if not path.is_file():
        raise InputError(path, "not a file")
    if fmt is None:
        fmt = detect_format(path) or "chat"
    result = ScanResult(path=path, format=fmt)
    n_workers = _worker_count(size) if workers is None else workers
    line_offset = 0
    done = 0
    for chunk in _chunk_results(path, fmt, encoding_name, n_workers, chunk_bytes):
        for category, found in chunk.samples.items():
            result.counts[category] = result.counts.get(category, 0) + chunk.counts[category]
            have = result.samples.setdefault(category, [])
            for line, fld, msg in found:
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
