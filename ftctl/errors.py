"""ftctl's own exceptions. Each carries its exit code; the CLI's error boundary prints them as one
line. Nothing here imports Typer, Rich or openai."""

from __future__ import annotations

from pathlib import Path

from ftctl.exit_codes import ExitCode


class FtctlError(Exception):
    """An error ftctl explains in one line, with an optional next step."""

    exit_code: ExitCode = ExitCode.ERROR
    label = "Error"  # how the error boundary introduces the message

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(FtctlError):
    """Flags or settings ftctl cannot work with."""

    exit_code = ExitCode.USAGE


class InputError(UsageError):
    """A problem in a user's file, located to the line (1-based) and field when known."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"{field}: {message}" if field else message
        super().__init__(f"{where}: {what}", hint=hint)


class RetiredModelError(UsageError):
    """A base model OpenAI has retired; the message names today's equivalent."""


class JobOutcomeError(FtctlError):
    """A followed job ended without succeeding (failed or cancelled)."""

    def __init__(self, message: str, exit_code: ExitCode, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


class Interrupted(FtctlError):
    """Ctrl-C: the message says what was left running and how to pick it up again."""

    exit_code = ExitCode.INTERRUPTED
    label = "Interrupted"
