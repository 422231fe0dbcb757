"""Every "next:" line is a command that works: `run_cli` replays each `ftctl ...` command a
`next:` hint names. It passes when the command exits 0, or gets as far as asking for the API
client (from then on only the service can answer): a usage error, a refused input or a crash
means the hint sends the user nowhere.

Three kinds are only parsed, not run: templates, whose arguments the user fills in (FILE, MODEL,
<prompt>), commands that run until stopped (`ftctl mock serve`), and commands that change the
user's shell set-up (`--install-completion` writes to ~/.bashrc)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from unittest import mock

from typer.testing import CliRunner

# `ftctl ...` in backticks, or after "with:"/"run:" up to the end of the line.
_QUOTED = re.compile(r"`(ftctl [^`]+)`")
_TRAILING = re.compile(r"(?:with|run|try):\s+(ftctl\s.+)$")


_PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]*[A-Z]|<[^>]+>|\.\.\.)$")
_RUN_UNTIL_STOPPED = (["mock", "serve"],)


class ReachedTheAPI(Exception):
    """Raised instead of building the SDK client while a hint is replayed."""


def next_commands(stderr: str) -> list[list[str]]:
    """The ftctl commands (argv after `ftctl`) named by `next:` lines."""
    found: list[list[str]] = []
    for line in stderr.splitlines():
        _, marker, hint = line.partition("next:")
        if not marker:
            continue
        texts = _QUOTED.findall(hint) or _TRAILING.findall(hint.strip())
        for text in texts:
            argv = shlex.split(text.strip().rstrip("."))
            found.append(argv[1:])
    return found


def _rest(ctx: object) -> list[str]:
    """What a group left for its subcommand (click keeps the subcommand name apart)."""
    return [*getattr(ctx, "_protected_args", []), *getattr(ctx, "args", [])]


def _parse(app: object, argv: list[str]) -> None:
    """Parse argv as the shell would hand it over, down to the last subcommand; no callbacks."""
    import typer.main

    command = typer.main.get_command(app)  # type: ignore[arg-type]
    try:
        ctx = command.make_context("ftctl", list(argv), resilient_parsing=False)
        while hasattr(command, "resolve_command") and _rest(ctx):
            name, command, rest = command.resolve_command(ctx, _rest(ctx))
            ctx = command.make_context(name, rest, parent=ctx)
    except Exception as exc:
        raise AssertionError(f"the hint `ftctl {shlex.join(argv)}` does not parse: {exc}") from exc


def check_next_commands(app: object, stderr: str, replay: Callable[[], None] | None = None) -> None:
    """Replay each hinted command; fail when one of them cannot work."""
    from ftctl.cli._context import AppState

    def refuse_client(self: AppState) -> object:
        raise ReachedTheAPI

    for argv in next_commands(stderr):
        _parse(app, argv)
        if (
            any(_PLACEHOLDER.match(arg) for arg in argv)
            or any(argv[: len(prefix)] == prefix for prefix in _RUN_UNTIL_STOPPED)
            or "--install-completion" in argv
        ):
            continue
        with mock.patch.object(AppState, "client", refuse_client):
            result = CliRunner().invoke(app, argv, input="", catch_exceptions=True)  # type: ignore[arg-type]
        reached = isinstance(result.exception, ReachedTheAPI) or "ReachedTheAPI" in result.stderr
        assert result.exit_code == 0 or reached, (
            f"the hint `ftctl {shlex.join(argv)}` does not work "
            f"(exit {result.exit_code}):\n{result.stderr}"
        )
