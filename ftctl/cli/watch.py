"""`ftctl watch`: a live table of several jobs (status, step, loss, time left) until all have
ended; also what `ftctl follow` does with several ids (then with each job's events above it).

Exit code: the worst outcome, with follow's codes: 3 if any job failed, else 4 if any was
cancelled, else 1 if a job could not be followed (say, an unknown id), else 0.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ftctl.cli import _output, _render
from ftctl.cli._context import current
from ftctl.cli._following import (
    DEFAULT_GIVE_UP_AFTER,
    GiveUpAfter,
    PollInterval,
    adaptive,
    jobs_service,
    retry_notice,
)
from ftctl.errors import Interrupted, JobOutcomeError
from ftctl.exit_codes import ExitCode
from ftctl.service.progress import ACTIVE_STATUSES, JobProgress, clock

if TYPE_CHECKING:
    from collections.abc import Generator

    from rich.console import Console, ConsoleOptions, RenderResult

BOARD_COLUMNS = [
    _render.Column("job", keep=True),
    _render.Column("status", keep=True),
    _render.Column("step", keep=True, justify="right"),
    _render.Column("loss", drop=2, justify="right"),
    _render.Column("left", keep=True, justify="right"),
    _render.Column("fine-tuned model", keep=True),
]

# Worst first: the order in which outcomes decide the exit code.
_SEVERITY = (ExitCode.JOB_FAILED, ExitCode.JOB_CANCELLED, ExitCode.ERROR, ExitCode.OK)


@dataclass
class Tracked:
    progress: JobProgress = field(default_factory=JobProgress)
    job: dict[str, Any] = field(default_factory=dict)
    outcome: ExitCode | None = None
    reason: str = ""


class Board:
    """Every job's line; a Rich renderable, redrawn as items arrive."""

    def __init__(self, job_ids: list[str], clock_: Any = time.time) -> None:
        self.jobs = {job_id: Tracked() for job_id in job_ids}
        self._clock = clock_

    def rows(self) -> list[tuple[str, ...]]:
        now = self._clock()
        rows: list[tuple[str, ...]] = []
        for job_id, tracked in self.jobs.items():
            p = tracked.progress
            status = p.phase if tracked.outcome is None or tracked.job else "error"
            rows.append(
                (
                    job_id,
                    status,
                    f"{p.step}/{p.total_steps}" if p.total_steps else "-",
                    "-" if p.loss is None else f"{p.loss:.4f}",
                    clock(p.seconds_left(now)),
                    str(tracked.job.get("fine_tuned_model") or tracked.reason or "-"),
                )
            )
        return rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield _render.build_table(BOARD_COLUMNS, self.rows(), width=options.max_width)

    def worst(self) -> ExitCode:
        outcomes = {t.outcome for t in self.jobs.values()}
        return next(code for code in _SEVERITY if code in outcomes or code is ExitCode.OK)


def _outcome(job: dict[str, Any]) -> tuple[ExitCode, str]:
    status = job.get("status")
    if status == "succeeded":
        return ExitCode.OK, ""
    if status == "failed":
        return ExitCode.JOB_FAILED, _render.job_error_message(job) or "no reason given"
    return ExitCode.JOB_CANCELLED, "cancelled"


def watch_jobs(
    job_ids: list[str],
    *,
    poll_interval: float,
    as_json: bool,
    with_events: bool,
    give_up_after: float = DEFAULT_GIVE_UP_AFTER,
) -> None:
    """Follow every job until each has ended; raise with the worst outcome's exit code."""
    from ftctl.cli import _live
    from ftctl.cli._errors import describe
    from ftctl.service.jobs import EventItem, FinishedItem, RetryItem, StatusItem
    from ftctl.service.watching import Failed, Tagged, follow_many

    board = Board(list(dict.fromkeys(job_ids)))
    live = _live.live_display(board, transient=False) if _live.wanted(as_json) else None

    def note(text: str) -> None:
        _live.print_above(live, text)

    items: Generator[Tagged, None, None] = follow_many(
        current().client(),
        list(board.jobs),
        poll_interval=poll_interval,
        interval=adaptive(poll_interval),
        give_up_after=give_up_after,
    )
    try:
        with live if live is not None else contextlib.nullcontext():
            for job_id, item in items:
                tracked = board.jobs[job_id]
                if isinstance(item, EventItem):
                    tracked.progress.on_event(item.event)
                    if with_events and as_json:
                        _output.emit_json_line({"job_id": job_id, "event": item.event})
                    elif with_events:
                        _output.echo(f"{job_id}  {_render.event_line(item.event)}")
                elif isinstance(item, StatusItem):
                    tracked.job = item.job
                    tracked.progress.on_job(item.job)
                    if as_json:
                        _output.emit_json_line(item.job)
                    elif live is None:
                        _output.echo(f"{job_id}\t{item.job.get('status', '-')}")
                elif isinstance(item, RetryItem):
                    note(f"{job_id}: {retry_notice(item)}")
                elif isinstance(item, FinishedItem):
                    tracked.job = item.job
                    tracked.progress.on_job(item.job)
                    tracked.outcome, tracked.reason = _outcome(item.job)
                elif isinstance(item, Failed):
                    message, _, _ = describe(item.error)
                    tracked.outcome, tracked.reason = ExitCode.ERROR, message
                    note(f"{job_id}: {message}")
                if live is not None:
                    live.refresh()
    except KeyboardInterrupt:
        items.close()
        left = [job_id for job_id, t in board.jobs.items() if t.outcome is None]
        raise Interrupted(
            f"stopped watching; {len(left)} job(s) still going, none was cancelled",
            hint="resume with: ftctl watch " + " ".join(left),
        ) from None
    _report(board, as_json=as_json)


def _report(board: Board, *, as_json: bool) -> None:
    for job_id, tracked in board.jobs.items():
        model = tracked.job.get("fine_tuned_model")
        if tracked.outcome is ExitCode.OK:
            _output.note(f"{job_id}: succeeded. Fine-tuned model: {model}")
        elif tracked.outcome is not ExitCode.ERROR:  # a job not followed was said at the time
            _output.note(f"{job_id}: {tracked.reason}")
    worst = board.worst()
    if worst is ExitCode.OK:
        if not as_json:
            for tracked in board.jobs.values():
                _output.echo(str(tracked.job.get("fine_tuned_model")))
        return
    bad = [job_id for job_id, t in board.jobs.items() if t.outcome is not ExitCode.OK]
    raise JobOutcomeError(
        f"{len(bad)} of {len(board.jobs)} job(s) did not succeed: " + ", ".join(bad), worst
    )


def watch(
    job_ids: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[JOB_ID]...",
            help="Jobs to watch [default: every active job].",
            show_default=False,
        ),
    ] = None,
    poll_interval: PollInterval = 5.0,
    give_up_after: GiveUpAfter = DEFAULT_GIVE_UP_AFTER,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print each job object as one JSON line whenever its status changes."
        ),
    ] = False,
) -> None:
    """Watch several jobs at once: status, step, loss and time left, until all have ended.

    Without ids, every job that is validating, queued, running or paused. Exit 0 when all
    succeed; otherwise the worst outcome: 3 if any failed, 4 if any was cancelled, 1 if a job
    could not be followed.
    """
    ids = list(dict.fromkeys(job_ids or []))
    if not ids:
        jobs = jobs_service().list_all().get("data") or []
        ids = [str(job["id"]) for job in jobs if job.get("status") in ACTIVE_STATUSES]
        if not ids:
            _output.note("No active fine-tuning jobs to watch.")
            return
    watch_jobs(
        ids,
        poll_interval=poll_interval,
        as_json=as_json,
        with_events=False,
        give_up_after=give_up_after,
    )


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
