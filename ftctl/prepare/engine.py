"""The engine under every check: bytes and processes, no data rules.

- segments: byte ranges of a JSON Lines file that end on a newline, for workers;
- worker_count: how many processes to use (FTCTL_WORKERS, the file's size, the cores);
- parse_lines: the one JSONL line parser (json.loads's own C scanner, called directly);
- run_parts: a fork pool that runs one job per segment and yields results in file order;
- run_hosted: the same pool forked from a fresh host process that holds the token encoder
  (ftctl.prepare.host), so the CLI's process never builds it;
- token_counter: one token counter per encoding and process, loaded before workers fork.

Bad files are refused here, with the line: a line over files.MAX_LINE_BYTES is never read whole,
nesting is bounded, `NaN`/`Infinity` are not JSON (ftctl.prepare.files).
"""

from __future__ import annotations

import json
import json.scanner
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from ftctl.errors import FtctlError
from ftctl.prepare import files
from ftctl.prepare.files import (
    LineTooLong,
    NotJson,
    bounded_lines,
    depth_problem,
    reject_constant,
    too_deep,
)

if TYPE_CHECKING:
    from ftctl.prepare.records import TokenCounter

# bytes per segment: a worker holds several times a segment while it reads one (its bytes, its
# text, its lines); 1 MB is as fast as 4 MB was and takes 20 MB less at a worker's peak
CHUNK_BYTES = 1 << 20
PARALLEL_MIN_BYTES = 8 << 20  # smaller files are read by one process
_FIND_BLOCK = 1 << 20
_SHALLOW_CHARS = 2 * files.MAX_DEPTH  # a shorter line cannot nest deeper than MAX_DEPTH

Segment = tuple[int, int]  # bytes [start, end) of a file; start is a line start
T = TypeVar("T")


def worker_count(size: int, requested: int | None = None) -> int:
    """Processes to read a file of size bytes with: requested if given, else FTCTL_WORKERS, else
    up to two cores; one for files under PARALLEL_MIN_BYTES either way but an explicit request,
    and one when every core is busy already (a load average at or over the core count: there a
    second process only adds its overhead; measured 1.4x slower on a 2-core machine at load 8)."""
    if requested is not None:
        return max(1, requested)
    if size < PARALLEL_MIN_BYTES:
        return 1
    asked = _asked_workers(None)
    if asked is not None:
        return asked
    cores = os.cpu_count() or 1
    if _load() >= cores:
        return 1
    return min(2, cores)


def hosted(size: int, requested: int | None = None) -> bool:
    """Whether a file of size bytes is read in the workers' host (run_hosted) even by one
    worker: when it is big enough for workers (PARALLEL_MIN_BYTES), unless one process, this
    one, was asked for (requested or FTCTL_WORKERS 1)."""
    return size >= PARALLEL_MIN_BYTES and _asked_workers(requested) != 1


def _asked_workers(requested: int | None) -> int | None:
    """The worker count asked for: requested, else FTCTL_WORKERS; None when neither says."""
    if requested is not None:
        return max(1, requested)
    env = os.environ.get("FTCTL_WORKERS", "")
    return max(1, int(env)) if env.isdigit() else None


def _load() -> float:
    """The 1-minute load average (0 where the system does not say)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _next_line_start(fh: IO[bytes], pos: int, size: int) -> int:
    """The offset after the first newline at or after pos (size if none), reading in blocks: a
    line is never read whole. Raises LineTooLong (its byte offset) past files.MAX_LINE_BYTES."""
    fh.seek(pos)
    scanned = 0
    while pos + scanned < size:
        block = fh.read(_FIND_BLOCK)
        found = block.find(b"\n")
        if found >= 0:
            return pos + scanned + found + 1
        scanned += len(block)
        if scanned > files.MAX_LINE_BYTES:
            raise LineTooLong(offset=pos)
    return size


def segments(path: Path, chunk_bytes: int | None = None) -> list[Segment]:
    """Byte ranges of about chunk_bytes that start and end on line boundaries ([(0, 0)] for an
    empty file)."""
    size = path.stat().st_size
    chunk = chunk_bytes or CHUNK_BYTES
    ranges: list[Segment] = []
    start = 0
    with path.open("rb") as fh:
        try:
            while start < size:
                target = start + chunk
                if target >= size:
                    ranges.append((start, size))
                    break
                end = _next_line_start(fh, target, size)
                ranges.append((start, end))
                start = end
        except LineTooLong as exc:
            raise LineTooLong(line=line_at(path, exc.offset or 0)) from None
    return ranges or [(0, 0)]


def line_at(path: Path, offset: int) -> int:
    """The 1-based line holding byte offset (newlines counted in blocks: flat memory)."""
    count = 0
    done = 0
    with path.open("rb") as fh:
        while done < offset:
            block = fh.read(min(_FIND_BLOCK, offset - done))
            if not block:
                break
            count += block.count(b"\n")
            done += len(block)
    return count + 1


@dataclass(frozen=True)
class BadLine:
    """What parse_lines yields for a line that is not a JSON value."""

    message: str


_BOM = b"\xef\xbb\xbf"
_JSON_SPACE = " \t\n\r"  # what json.loads allows around a value
_ASCII_SPACE = " \t\n\r\x0b\x0c"  # what bytes.strip() strips
_DECODER = json.JSONDecoder(parse_constant=reject_constant)
# json.loads's own value scanner (the C one), configured as json.loads configures it
_scan_once: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(cast(Any, _DECODER))


def read_segment(path: Path, segment: Segment) -> list[str] | list[bytes]:
    """The lines of bytes [start, end) of path, without their newlines: text when all of it is
    text that json.loads would decode as UTF-8 (no NUL, no BOM: json.loads sniffs those per
    line), else bytes. Raises LineTooLong (the line within the segment) over the bound."""
    start, end = segment
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    if start == 0 and data.startswith(_BOM):
        data = data[3:]
    text: str | None = None
    if b"\x00" not in data and _BOM not in data:
        try:
            text = data.decode("utf-8", "surrogatepass")  # json.loads's decoding of bytes
        except UnicodeDecodeError:
            text = None
    lines: list[str] | list[bytes]
    if text is not None:
        del data
        lines = text.split("\n")
        del text
        if lines and lines[-1] == "":
            lines.pop()
    else:
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
    bound = files.MAX_LINE_BYTES
    if end - start > bound:  # only a segment this big can hold a line over the bound
        for number, line in enumerate(lines, 1):
            if len(line) > bound // 4 and _byte_length(line) > bound:
                raise LineTooLong(line=number)
    return lines


def _byte_length(line: object) -> int:
    if isinstance(line, str):
        return len(line.encode("utf-8", "surrogatepass"))
    return len(line) if isinstance(line, bytes) else 0


def bad_line(exc: ValueError | RecursionError) -> BadLine:
    """What a line that json could not parse is (json's own message for bad JSON)."""
    if isinstance(exc, UnicodeDecodeError):
        return BadLine("not UTF-8 text")
    if isinstance(exc, NotJson):
        return BadLine(str(exc))
    if isinstance(exc, RecursionError):
        return BadLine(too_deep())
    return BadLine(f"not valid JSON ({exc.args[0]})")


def _text_values(lines: list[str]) -> Iterator[tuple[int, object]]:
    """(line, value) of each non-blank line, parsed exactly as json.loads parses it: the C
    scanner json.loads runs, called directly; json.loads itself for a line the scanner does not
    take whole (surrounding whitespace, bad JSON: its error message)."""
    scan = _scan_once
    decode = _DECODER.decode
    for number, line in enumerate(lines, 1):
        try:
            obj, end = scan(line, 0)
        except StopIteration:  # no value at 0: json.loads tells why
            end = -1
        except NotJson as exc:
            yield number, BadLine(str(exc))
            continue
        except ValueError:
            end = -1
        except RecursionError:
            yield number, BadLine(too_deep())
            continue
        if end != len(line):
            if not line.strip(_ASCII_SPACE):
                continue
            if end < 0 or len(line.rstrip(_JSON_SPACE)) != end:
                try:
                    obj = decode(line)
                except (ValueError, RecursionError) as exc:
                    yield number, bad_line(exc)
                    continue
        if len(line) > _SHALLOW_CHARS:
            deep = depth_problem(line)
            if deep:
                yield number, BadLine(deep)
                continue
        yield number, obj


def _byte_values(lines: list[bytes]) -> Iterator[tuple[int, object]]:
    loads = json.loads
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = loads(raw, parse_constant=reject_constant)
        except (ValueError, RecursionError) as exc:
            yield number, bad_line(exc)
            continue
        deep = depth_problem(raw)
        if deep:
            yield number, BadLine(deep)
            continue
        yield number, obj


def parse_lines(lines: list[str] | list[bytes]) -> Iterator[tuple[int, object]]:
    """(line within the lines, value) for every non-blank line; BadLine for a bad one."""
    if lines and type(lines[0]) is bytes:
        return _byte_values(lines)
    return _text_values(cast("list[str]", lines))


def file_values(path: Path) -> Iterator[tuple[int, object]]:
    """(line, value) of every non-blank line of a JSON Lines file, one segment at a time."""
    offset = 0
    for segment in segments(path):
        try:
            lines = read_segment(path, segment)
        except LineTooLong as exc:
            raise LineTooLong(line=offset + (exc.line or 0)) from None
        for number, value in parse_lines(lines):
            yield offset + number, value
        offset += len(lines)


def first_values(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line, raw bytes) of the non-blank lines from the start, each read with a bound."""
    with path.open("rb") as fh:
        for number, raw in bounded_lines(fh):
            if raw.strip():
                yield number, raw


def run_parts(
    func: Callable[..., T],
    jobs: list[tuple[Any, ...]],
    workers: int,
    prime: Callable[[], Any],
    meanwhile: Callable[[], Any] | None = None,
) -> Iterator[T]:
    """func(*job) for each job, in order: here, or in forked workers that share what prime()
    loaded (the token encoder) with this process. meanwhile() runs here once the workers are
    busy (work for a later pass, such as loading its encoder, done while this pass runs)."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield func(*job)
        if meanwhile is not None:
            meanwhile()
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
            results = pool.imap(_Star(func), jobs, chunksize=1)
            if meanwhile is not None:
                meanwhile()  # no fork happens while it runs: the workers exist already
            yield from results
    finally:
        gc.unfreeze()


# The host's command, with this process's sys.path (argv), so it runs the same ftctl however this
# one was started (an installed script, `python -m ftctl`, a checkout).
_HOST_CODE = (
    "import sys; sys.path[:] = sys.argv[1:]; from ftctl.prepare.host import main; sys.exit(main())"
)


def run_hosted(
    func: Callable[..., T], jobs: list[tuple[Any, ...]], workers: int, encoding_name: str | None
) -> Iterator[T]:
    """func(*job) for each job, in order, as run_parts runs them with the token counter of
    encoding_name loaded, but in a fresh host process that builds the encoder and runs the jobs
    (itself with one worker, or in workers forked from it: ftctl.prepare.host), so this process
    never holds the encoder. One job, or no tokens to count, runs here."""
    if len(jobs) <= 1 or encoding_name is None or not sys.executable or hasattr(sys, "frozen"):
        yield from run_parts(func, jobs, workers, lambda: token_counter(encoding_name))
        return
    import pickle
    import subprocess

    from ftctl.tokens import rank_file

    host = subprocess.Popen(
        [sys.executable, "-c", _HOST_CODE, *sys.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert host.stdin is not None and host.stdout is not None
    try:
        try:
            with host.stdin:
                # read and checked here, where hashlib is loaded already, while the host starts
                ranks = rank_file(encoding_name)
                pickle.dump((encoding_name, ranks), host.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                del ranks
                pickle.dump((func, jobs, workers), host.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:
            raise HostStopped(host.wait()) from None
        while True:
            try:
                kind, value = pickle.load(host.stdout)
            except (EOFError, pickle.UnpicklingError):
                raise HostStopped(host.wait()) from None
            if kind == "end":
                break
            if kind == "error":
                raise value
            yield value
    finally:
        host.stdout.close()  # a host still writing stops at a broken pipe, and stops its pool
        try:
            host.wait(timeout=10)
        except subprocess.TimeoutExpired:
            host.kill()
            host.wait()


class HostStopped(FtctlError):
    """The workers' host ended without an answer (killed, out of memory)."""

    def __init__(self, status: int) -> None:
        super().__init__(
            f"prepare's worker process ended unexpectedly (exit status {status})",
            hint="run it again; with FTCTL_WORKERS=1 the file is read in ftctl's own process",
        )


class _Star:
    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, job: tuple[Any, ...]) -> Any:
        return self.func(*job)


_counters: dict[str, TokenCounter] = {}


def token_counter(encoding_name: str | None) -> TokenCounter | None:
    """The token counter of an encoding, built once per process (None: tokens are not counted)."""
    if encoding_name is None:
        return None
    counter = _counters.get(encoding_name)
    if counter is None:
        from ftctl.prepare.records import TokenCounter
        from ftctl.tokens import ordinary_encoding, word_counter

        counter = TokenCounter(
            ordinary_encoding(encoding_name).encode_ordinary, word_counter(encoding_name)
        )
        _counters[encoding_name] = counter
    return counter
