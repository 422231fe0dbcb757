"""Where output goes: data to stdout, everything else (progress, notes, errors) to stderr.

Rich consoles are built on use, around the current sys.stdout/sys.stderr, so a plain
`ftctl get --json` never imports Rich. Colour and live widgets appear only on a terminal; Rich
itself honours NO_COLOR.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def out_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=True, markup=False, emoji=False)


def err_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True, markup=False, emoji=False)


def emit_json(obj: Any) -> None:
    """Print an API object as JSON on stdout: the object and nothing else, for jq."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit_json_line(obj: Any) -> None:
    """One compact JSON object per line (JSON Lines), for streams of events or chunks."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def echo(text: str = "", *, end: str = "\n") -> None:
    """Data for the user's pipe."""
    sys.stdout.write(text + end)
    sys.stdout.flush()


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        echo(line)


def note(text: str) -> None:
    """A message for the person at the terminal, never part of the data."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def show(obj: T, as_json: bool, render: Callable[[T], None]) -> None:
    """The one rule for data output: the API object verbatim with --json, else its rendering."""
    if as_json:
        emit_json(obj)
    else:
        render(obj)
