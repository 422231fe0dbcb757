"""The one error boundary (`BoundaryGroup`, the root command group): every exception a command
raises becomes one line on stderr and an exit code. An ordered table maps exception types to
messages that say what to do next; the first match wins, so specific types come
before their bases. Tracebacks appear only with --debug.

openai's exception types are looked up by name, and only when openai is already imported: if it
is not, no openai exception can be in flight, and the boundary stays off the start-up path.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from ftctl.cli._context import current
from ftctl.errors import FtctlError
from ftctl.exit_codes import ExitCode


@dataclass(frozen=True)
class Rule:
    type_path: str  # "module:Name"
    exit_code: ExitCode
    hint: str | None


RULES: tuple[Rule, ...] = (
    Rule("openai:AuthenticationError", ExitCode.ERROR, "check OPENAI_API_KEY"),
    Rule(
        "openai:PermissionDeniedError",
        ExitCode.ERROR,
        "check that the key's project and organization may use this resource",
    ),
    Rule(
        "openai:NotFoundError",
        ExitCode.ERROR,
        "check the id: `ftctl list` shows your jobs",
    ),
    Rule(
        "openai:RateLimitError",
        ExitCode.ERROR,
        "wait and run the command again, or raise --max-retries",
    ),
    Rule("openai:BadRequestError", ExitCode.ERROR, None),
    Rule("openai:UnprocessableEntityError", ExitCode.ERROR, None),
    Rule(
        "openai:InternalServerError",
        ExitCode.ERROR,
        "the service had a problem: try again in a minute",
    ),
    Rule("openai:APIStatusError", ExitCode.ERROR, None),
    Rule("openai:APITimeoutError", ExitCode.ERROR, "raise --timeout, or try again"),
    Rule(
        "openai:APIConnectionError",
        ExitCode.ERROR,
        "check the network, or the URL given by --base-url / OPENAI_BASE_URL",
    ),
    Rule("openai:OpenAIError", ExitCode.ERROR, None),
)


def _resolve(type_path: str) -> type[BaseException] | None:
    module_name, _, name = type_path.partition(":")
    module = sys.modules.get(module_name)
    found = getattr(module, name, None) if module is not None else None
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _api_error_line(exc: BaseException) -> str:
    """The API's own message, then HTTP status and request id when the error carries them."""
    body = getattr(exc, "body", None)
    message = param = None
    if isinstance(body, dict):
        message, param = body.get("message"), body.get("param")
    if not message:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    details = []
    status = getattr(exc, "status_code", None)
    if status is not None:
        details.append(f"HTTP {status}")
    if status == 400 and isinstance(param, str) and param:
        details.append(f"param {param}")  # the field refused, which the message may not name
    request_id = getattr(exc, "request_id", None)
    if request_id:
        details.append(f"request {request_id}")
    if status is None and getattr(exc, "request", None) is not None:
        # Connection errors and timeouts: say where ftctl tried to go, and what the OS said.
        request = exc.request  # type: ignore[attr-defined]
        cause = exc.__cause__
        reason = f": {cause}" if cause is not None and str(cause) else ""
        return f"{message} {request.method} {request.url}{reason}"
    return f"{message} ({', '.join(details)})" if details else str(message)


def _not_found_hint(exc: BaseException) -> str | None:
    """For a 404, the command that lists what the request looked for (a file id is not found
    among jobs); None for jobs and anything else, which the rule's hint covers."""
    from urllib.parse import unquote

    request = getattr(exc, "request", None)
    path = unquote(str(getattr(getattr(request, "url", None), "path", "") or ""))
    if "/files/" in path or "/uploads/" in path:
        return "check the id: `ftctl files list` shows your files"
    if "/models/" in path:
        return "check the name: `ftctl models list` shows the models this key can use"
    checkpoint, found, rest = path.partition("/fine_tuning/checkpoints/")[2].partition(
        "/permissions"
    )
    if found and rest.strip("/"):
        return f"check the id: `ftctl checkpoints permissions {checkpoint}` lists its permissions"
    if found:
        return "check the name: `ftctl checkpoints -i JOB` lists a job's checkpoints"
    return None


def describe(exc: BaseException) -> tuple[str, str | None, ExitCode]:
    """Message, next step and exit code for any exception."""
    if isinstance(exc, FtctlError):
        return exc.message, exc.hint, exc.exit_code
    for rule in RULES:
        exc_type = _resolve(rule.type_path)
        if exc_type is not None and isinstance(exc, exc_type):
            hint = rule.hint
            if getattr(exc, "status_code", None) == 404:
                hint = _not_found_hint(exc) or hint
            return _api_error_line(exc), hint, rule.exit_code
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", None, ExitCode.ERROR
    return (
        f"internal error: {type(exc).__name__}: {exc}",
        "rerun with --debug for the traceback, and report it",
        ExitCode.ERROR,
    )


def printable(text: str) -> str:
    """text with control characters escaped (`\\x1b`), so that a file name or an API string
    holding terminal escape sequences prints as itself instead of driving the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def report(exc: BaseException, *, debug: bool, secret: str | None) -> ExitCode:
    """Print one line (two with a next step) for exc; return its exit code."""
    from ftctl.secrets import redact

    if debug:
        sys.stderr.write(redact("".join(traceback.format_exception(exc)), secret))
    message, hint, code = describe(exc)
    label = exc.label if isinstance(exc, FtctlError) else "Error"
    sys.stderr.write(printable(redact(f"{label}: {message}", secret)) + "\n")
    if hint:
        sys.stderr.write(printable(redact(f"  next: {hint}", secret)) + "\n")
    sys.stderr.flush()
    return code


class BoundaryGroup(TyperGroup):
    """The root command group, so the boundary wraps every command once, subgroups included: a
    command cannot forget it. Typer's usage errors and Exit pass through; Abort is Ctrl-C."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.Abort:
            # Click's prompts turn Ctrl-C (and Ctrl-D) into Abort: the user stopped, as with
            # Ctrl-C anywhere else, not a failure ("Aborted!", exit 1).
            sys.stderr.write("\nInterrupted.\n")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except (typer.Exit, TyperException):
            raise
        except BrokenPipeError:
            # `ftctl list | head -1`: the reader left; stop quietly, as Unix tools do.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(ExitCode.ERROR) from None
        except KeyboardInterrupt:
            sys.stderr.write("\nInterrupted.\n")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except Exception as exc:
            settings = current().settings
            code = report(exc, debug=settings.debug, secret=settings.api_key)
            raise typer.Exit(code) from None
