"""The type of the `run_cli` fixture (see tests/conftest.py), and its key-leak check."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

from typer.testing import Result

RunCli = Callable[..., Result]

# The API itself shows a rejected key's first 8 characters; any other 8 in a row are a leak.
PUBLIC_PREFIX = 8
PARTIAL = 8


def key_forms(key: str) -> list[str]:
    """The spellings of a key that must never reach output: raw, escaped, quoted, partial."""
    forms = {
        key,
        repr(key),
        json.dumps(key),
        key.encode("unicode_escape").decode(),
        quote(key, safe=""),
        "SECRET",  # the marked middle of tests' fake keys
    }
    forms.update(key[i : i + PARTIAL] for i in range(1, len(key) - PARTIAL + 1))
    return sorted(forms)


def assert_no_key(text: str, key: str, where: str) -> None:
    for form in key_forms(key):
        assert form not in text, f"the API key leaked to {where} as {form!r}:\n{text}"


def every_command() -> list[list[str]]:
    """Every command and subcommand of ftctl, as argv after `ftctl` (the root first, as [])."""
    import typer.main

    from ftctl.cli.app import app

    group = typer.main.get_command(app)
    found: list[list[str]] = [[]]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        found.append([name])
        found.extend([name, sub] for sub in getattr(command, "commands", {}))
    return found
