"""What following a job takes, shared by `follow`, `watch`, `create` and `run`: the polling
options, the wait between polls, the retry warning, and the jobs service on the current client
(which most commands use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ftctl.cli._context import current

if TYPE_CHECKING:
    from collections.abc import Callable

    from ftctl.service.jobs import JobsService, RetryItem

PollInterval = Annotated[
    float,
    typer.Option(
        "--poll-interval",
        min=0.0,
        envvar="FTCTL_POLL_INTERVAL",
        help="Seconds between status checks while following.",
    ),
]


GiveUpAfter = Annotated[
    float,
    typer.Option(
        "--give-up-after",
        min=0.0,
        metavar="SECONDS",
        envvar="FTCTL_GIVE_UP_AFTER",
        help="Stop following (exit 1, job untouched) after this many seconds without an "
        "answer from the service.",
    ),
]
DEFAULT_GIVE_UP_AFTER = 900.0  # the service's DEFAULT_GIVE_UP_AFTER, spelt here for --help


def jobs_service() -> JobsService:
    from ftctl.service.jobs import JobsService

    return JobsService(current().client())


def adaptive(poll_interval: float) -> Callable[[dict[str, Any]], float]:
    """The wait after each poll: shorter while a job runs, longer while it queues or pauses."""
    from ftctl.service.progress import adaptive_interval

    def interval(job: dict[str, Any]) -> float:
        return adaptive_interval(job.get("status"), poll_interval)

    return interval


def retry_notice(item: RetryItem) -> str:
    """`Warning: <what failed>; retrying in 4 s`, the key redacted."""
    from ftctl.cli._errors import describe
    from ftctl.secrets import redact

    message, _, _ = describe(item.error)
    secret = current().settings.api_key
    return redact(f"Warning: {message}; retrying in {item.delay:.0f} s", secret)
