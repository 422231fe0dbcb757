"""Bad files, refused before and while they are read: pure checks that prepare, create's pre-check
and the mock share. Nothing here prints or imports Typer, Rich or openai.

- check_input_path: a path that is missing, a directory, a FIFO or device, a symlink loop or
  unreadable gets its own one-line InputError (exit 2) before anything reads it;
- shown_path: a file name with its control characters escaped, safe to print on a terminal;
- bounded_lines / LineTooLong: lines over MAX_LINE_BYTES are refused by number, never read whole;
- reject_constant / depth_problem: `NaN`, `Infinity` and nesting past MAX_DEPTH are not accepted.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ftctl.errors import InputError

MAX_LINE_BYTES = 64 << 20  # one example; far above the service's token limits
MAX_DEPTH = 128  # arrays and objects inside each other


def shown_path(path: str | Path) -> str:
    """path as text that prints as itself: control characters (ESC, newlines, ...) escaped."""
    text = str(path)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def input_error(
    path: str | Path,
    message: str,
    *,
    line: int | None = None,
    field: str | None = None,
    hint: str | None = None,
) -> InputError:
    """An InputError naming path as shown_path prints it."""
    return InputError(shown_path(path), message, line=line, field=field, hint=hint)


def check_input_path(path: Path) -> int:
    """The size of the regular, readable file at path; else InputError with what it is."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise input_error(path, "a loop of symbolic links, not a file") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise input_error(path, "no such file") from None
        if exc.errno == errno.EACCES:
            raise input_error(path, "permission denied (a directory on the way)") from None
        raise input_error(path, exc.strerror or str(exc)) from None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise input_error(path, "a directory, not a file", hint="pass the data file inside it")
    if stat.S_ISFIFO(mode):
        raise input_error(
            path,
            "a FIFO (named pipe), not a regular file: ftctl reads data files more than once",
            hint="save the data to a file first",
        )
    if not stat.S_ISREG(mode):
        raise input_error(path, "a device or socket, not a regular file")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise input_error(path, "permission denied (the file is not readable)") from None
    except OSError as exc:
        raise input_error(path, exc.strerror or str(exc)) from None
    return info.st_size


class LineTooLong(Exception):
    """A line over MAX_LINE_BYTES: its 1-based number (line) or, before it is known, the byte
    offset where the search for its end started. Positional args: it crosses process pools."""

    def __init__(self, line: int = 0, offset: int = 0) -> None:
        super().__init__(line, offset)
        self.line = line
        self.offset = offset


def too_long_message() -> str:
    return f"the line is longer than {MAX_LINE_BYTES:,} bytes (one example per line)"


def line_too_long(path: str | Path, line: int) -> InputError:
    return input_error(
        path, too_long_message(), line=line, hint="is it JSON Lines, one example per line?"
    )


def bounded_lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(1-based number, line with its newline) of a binary file, each read with a bound: a line
    longer than MAX_LINE_BYTES raises LineTooLong instead of being read whole."""
    limit = MAX_LINE_BYTES + 2
    for number in itertools.count(1):
        line = fh.readline(limit)
        if not line:
            return
        if len(line.rstrip(b"\r\n")) > MAX_LINE_BYTES:
            raise LineTooLong(line=number)
        yield number, line


def bounded_text_lines(fh: IO[str]) -> Iterator[str]:
    """The lines of a text file (newline kept), each read with a bound (characters)."""
    limit = MAX_LINE_BYTES + 2
    for number in itertools.count(1):
        line = fh.readline(limit)
        if not line:
            return
        if len(line.rstrip("\r\n")) > MAX_LINE_BYTES:
            raise LineTooLong(line=number)
        yield line


class NotJson(ValueError):
    """A bare `NaN`, `Infinity` or `-Infinity`: Python's json takes them, JSON does not."""


def reject_constant(name: str) -> object:
    """json's parse_constant: refuse the non-standard constants."""
    raise NotJson(f"not valid JSON (`{name}` is not a JSON value)")


def too_deep() -> str:
    return f"not valid JSON here: nested deeper than {MAX_DEPTH} levels"


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_BYTES = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def depth_problem(line: str | bytes) -> str | None:
    """too_deep() when the JSON text holds arrays/objects nested past MAX_DEPTH, else None.
    Cheap for ordinary lines: only a line with more than MAX_DEPTH brackets is looked at."""
    if isinstance(line, bytes):
        if line.count(b"[") + line.count(b"{") <= MAX_DEPTH:
            return None
        text = _STRING_BYTES.sub(b"", line).decode("latin-1")
    else:
        if line.count("[") + line.count("{") <= MAX_DEPTH:
            return None
        text = _STRING.sub("", line)
    steps = (_DEPTH_STEP.get(ord(c), 0) for c in text if c in "[]{}")
    deepest = max(itertools.accumulate(steps), default=0)
    return too_deep() if deepest > MAX_DEPTH else None
