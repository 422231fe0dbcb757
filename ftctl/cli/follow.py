"""`ftctl follow`: a job's events as they arrive, until it ends (also the tail of `create`)."""

from __future__ import annotations

import contextlib
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
from ftctl.cli._options import JsonFlag, pick
from ftctl.errors import Interrupted, JobOutcomeError
from ftctl.exit_codes import ExitCode

if TYPE_CHECKING:
    from ftctl.service.jobs import JobsService


def follow_job(
    service: JobsService,
    job_id: str,
    *,
    poll_interval: float,
    as_json: bool,
    give_up_after: float = DEFAULT_GIVE_UP_AFTER,
    try_prompt: str | None = None,
    try_stop: str | None = None,
) -> None:
    """Follow to the end; on success print the model and a `complete` command to try it (with a
    prompt and stop sequence from the training data when the caller knows them)."""
    from ftctl.cli import _live
    from ftctl.service.jobs import (
        EventItem,
        FinishedItem,
        RetryItem,
        ServiceUnreachable,
        StatusItem,
    )

    last_job: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    view = _live.TrainingView() if _live.wanted(as_json) else None
    try:
        with view if view is not None else contextlib.nullcontext():
            items = service.follow(
                job_id,
                poll_interval=poll_interval,
                interval=adaptive(poll_interval),
                give_up_after=give_up_after,
            )
            for item in items:
                if isinstance(item, EventItem):
                    if as_json:
                        _output.emit_json_line(item.event)
                    else:
                        _output.echo(_render.event_line(item.event))
                    if view is not None:
                        view.on_event(item.event)
                elif isinstance(item, StatusItem):
                    last_job = item.job
                    if view is not None:
                        view.on_job(item.job)
                elif isinstance(item, RetryItem):
                    if view is not None:
                        view.note(retry_notice(item))
                    else:
                        _output.note(retry_notice(item))
                elif isinstance(item, FinishedItem):
                    finished = item.job
                    break
    except ServiceUnreachable as exc:
        exc.hint = f"resume with: ftctl follow -i {job_id}"
        raise
    except KeyboardInterrupt:
        status = (last_job or {}).get("status", "unknown")
        raise Interrupted(
            f"stopped following; job {job_id} was not cancelled (last status: {status})",
            hint=f"resume with: ftctl follow -i {job_id}",
        ) from None
    if finished is not None:
        finish(finished, as_json=as_json, try_prompt=try_prompt, try_stop=try_stop)


def finish(
    job: dict[str, Any],
    *,
    as_json: bool,
    try_prompt: str | None = None,
    try_stop: str | None = None,
) -> None:
    """Report how a followed job ended: the tuned model and a command to try it, or an error
    with follow's exit code."""
    job_id = job.get("id")
    status = job.get("status")
    if status == "succeeded":
        model = job.get("fine_tuned_model")
        _output.note(f"Job complete! Status: succeeded. Fine-tuned model: {model}")
        if not as_json:
            _output.echo(str(model))
        from ftctl.cli.complete import try_it

        azure = current().settings.is_azure
        _output.note(try_it(str(model), prompt=try_prompt, stop=try_stop, azure=azure))
        return
    if status == "failed":
        reason = _render.job_error_message(job) or "no reason given"
        raise JobOutcomeError(
            f"job {job_id} failed: {reason}",
            ExitCode.JOB_FAILED,
            hint="fix the data (`ftctl prepare -f FILE`) and create a new job",
        )
    raise JobOutcomeError(f"job {job_id} was cancelled", ExitCode.JOB_CANCELLED)


def follow(
    job_ids: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="JOB_ID...",
            help="Fine-tuning job id(s) (ftjob-...); same as -i.",
            show_default=False,
        ),
    ] = None,
    job_id: Annotated[
        list[str] | None,
        typer.Option(
            "--id", "-i", help="Fine-tuning job id (ftjob-...); repeatable.", show_default=False
        ),
    ] = None,
    poll_interval: PollInterval = 5.0,
    give_up_after: GiveUpAfter = DEFAULT_GIVE_UP_AFTER,
    as_json: JsonFlag = False,
) -> None:
    """Print a job's events as they arrive until it ends.

    Exit 0 when it succeeds, 3 when it fails, 4 when it is cancelled, 1 when the service
    stays unreachable for --give-up-after seconds. Ctrl-C stops following (exit 130) and
    leaves the job running. With several ids, each line is prefixed by its job and the
    exit code is the worst outcome (as `ftctl watch`).
    """
    ids = list(dict.fromkeys([*(job_ids or []), *(job_id or [])]))
    if not ids:
        pick(None, None, "job id")
    if len(ids) == 1:
        follow_job(
            jobs_service(),
            ids[0],
            poll_interval=poll_interval,
            as_json=as_json,
            give_up_after=give_up_after,
        )
        return
    from ftctl.cli.watch import watch_jobs

    watch_jobs(
        ids,
        poll_interval=poll_interval,
        as_json=as_json,
        with_events=True,
        give_up_after=give_up_after,
    )


def register(app: typer.Typer) -> None:
    app.command("follow")(follow)
