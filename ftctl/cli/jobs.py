"""Job commands: create, follow, list, get, cancel, pause, resume."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ftctl.cli import _output, _render
from ftctl.cli._context import current
from ftctl.cli._errors import guarded
from ftctl.cli._options import JobIdArg, JobIdOpt, JsonFlag, YesFlag, pick
from ftctl.errors import InputError, Interrupted, JobOutcomeError, UsageError
from ftctl.exit_codes import ExitCode
from ftctl.models import check_not_retired

if TYPE_CHECKING:
    from ftctl.prepare import UploadCheck
    from ftctl.service.jobs import JobsService

PollInterval = Annotated[
    float,
    typer.Option(
        "--poll-interval",
        min=0.0,
        envvar="FTCTL_POLL_INTERVAL",
        help="Seconds between status checks while following.",
    ),
]


def _jobs() -> JobsService:
    from ftctl.service.jobs import JobsService

    return JobsService(current().client())


# -- create ---------------------------------------------------------------------------------


def _parse_metadata(pairs: list[str]) -> dict[str, str] | None:
    if not pairs:
        return None
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata expects KEY=VALUE, got '{pair}'")
        metadata[key] = value
    return metadata


_MAX_PROBLEMS_SHOWN = 20


def _check_local_file(
    ref: str | None, model: str, flag: str, n_epochs: int | None
) -> UploadCheck | None:
    """Check a local training or validation file, refusing (before anything is uploaded) one the
    service would reject. None when there is nothing to check: no file, or a `file-...` id."""
    from ftctl.service.files import is_file_id

    if ref is None or is_file_id(ref):
        return None
    path = Path(ref)
    if not path.is_file():
        raise InputError(
            path, "no such file", hint=f"pass a local JSONL file or a file-... id to {flag}"
        )
    from ftctl.prepare import check_training_file

    check = check_training_file(path, model, n_epochs=n_epochs)
    if not check.usable:
        shown = check.problems[:_MAX_PROBLEMS_SHOWN]
        for problem in shown:
            _output.note(problem)
        if len(check.problems) > len(shown):
            _output.note(f"... and {len(check.problems) - len(shown)} more")
        raise InputError(
            path,
            f"{len(check.problems)} problem(s) the service would reject; nothing was uploaded",
            hint=f"run `ftctl prepare -f {path} -m {model}` for the full analysis",
        )
    return check


def _confirm_cost(path: str, check: UploadCheck, yes: bool) -> None:
    cost = check.estimated_cost_usd
    cost_text = "unknown (no price for this model)" if cost is None else f"${cost:,.2f}"
    _output.note(
        f"{path}: {check.examples} {check.format} examples, "
        f"{check.total_tokens:,} tokens; about {check.billed_tokens:,} billed tokens "
        f"over {check.n_epochs} epochs, estimated cost {cost_text}"
    )
    if yes or not _output.stdin_is_tty():
        return
    if not typer.confirm("Upload and start training?", default=True, err=True):
        raise typer.Exit(ExitCode.OK)


def _upload(path: Path) -> str:
    from ftctl.service.files import FilesService

    service = FilesService(current().client())
    size = path.stat().st_size
    if _output.stderr_is_tty():
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        with Progress(
            TextColumn("Upload progress"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=_output.err_console(),
            transient=False,
        ) as progress:
            task = progress.add_task("upload", total=size)
            uploaded = service.upload(path, on_progress=lambda n: progress.advance(task, n))
    else:
        uploaded = service.upload(path)
    file_id = str(uploaded["id"])
    _output.note(f"Uploaded file from {path}: {file_id}")
    return file_id


def create(
    training_file: Annotated[
        str,
        typer.Option(
            "--training-file", "-t", help="Training data: a local JSONL file or a file-... id."
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="Base model, e.g. gpt-4o-mini-2024-07-18 or davinci-002."
        ),
    ],
    validation_file: Annotated[
        str | None,
        typer.Option(
            "--validation-file", "-v", help="Validation data: a local JSONL file or a file-... id."
        ),
    ] = None,
    suffix: Annotated[
        str | None, typer.Option("--suffix", help="Up to 64 characters added to the model name.")
    ] = None,
    n_epochs: Annotated[
        int | None, typer.Option("--n-epochs", min=1, max=50, help="Epochs [default: auto].")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, max=256, help="Batch size [default: auto].")
    ] = None,
    learning_rate_multiplier: Annotated[
        float | None,
        typer.Option(
            "--learning-rate-multiplier", min=0.0, help="Learning rate multiplier [default: auto]."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for reproducible jobs.")] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", help="KEY=VALUE to attach to the job; repeatable."),
    ] = None,
    no_follow: Annotated[
        bool, typer.Option("--no-follow", help="Return once the job is created.")
    ] = False,
    poll_interval: PollInterval = 5.0,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Upload training data and create a fine-tuning job, then follow it.

    Local files are checked first (format, token count, estimated cost) and nothing is
    uploaded if the service would reject them. On a terminal, ftctl asks before spending.
    """
    from ftctl.service.jobs import Hyperparameters, JobRequest

    check_not_retired(model)
    meta = _parse_metadata(metadata or [])
    train_check = _check_local_file(training_file, model, "-t", n_epochs)
    valid_check = _check_local_file(validation_file, model, "-v", n_epochs)
    if train_check is not None:
        _confirm_cost(training_file, train_check, yes)
    train_id = training_file if train_check is None else _upload(Path(training_file))
    valid_id = validation_file
    if validation_file is not None and valid_check is not None:
        valid_id = _upload(Path(validation_file))

    request = JobRequest(
        model=model,
        training_file=train_id,
        validation_file=valid_id,
        suffix=suffix,
        hyperparameters=Hyperparameters(n_epochs, batch_size, learning_rate_multiplier),
        seed=seed,
        metadata=meta,
    )
    service = _jobs()
    job = service.create(request)
    job_id = str(job["id"])
    _output.note(f"Created fine-tuning job: {job_id}")
    if no_follow:
        if as_json:
            _output.emit_json(job)
        else:
            _output.echo(job_id)
        return
    if as_json:
        _output.emit_json_line(job)
    _output.note("Streaming events until fine-tuning is complete...")
    _output.note("(Ctrl-C will interrupt the stream, but not cancel the fine-tune)")
    _follow(service, job_id, poll_interval=poll_interval, as_json=as_json)


# -- follow ---------------------------------------------------------------------------------


def _follow(service: JobsService, job_id: str, *, poll_interval: float, as_json: bool) -> None:
    from ftctl.cli import _live
    from ftctl.service.jobs import EventItem, FinishedItem, RetryItem, StatusItem

    last_job: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    view = _live.TrainingView() if _live.wanted(as_json) else None
    try:
        with view if view is not None else contextlib.nullcontext():
            for item in service.follow(job_id, poll_interval=poll_interval):
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
                    from ftctl.cli._errors import describe

                    message, _, _ = describe(item.error)
                    _output.note(f"Warning: {message}; retrying in {item.delay:.0f}s")
                elif isinstance(item, FinishedItem):
                    finished = item.job
                    break
    except KeyboardInterrupt:
        status = (last_job or {}).get("status", "unknown")
        raise Interrupted(
            f"stopped following; job {job_id} was not cancelled (last status: {status})",
            hint=f"resume with: ftctl follow -i {job_id}",
        ) from None
    if finished is not None:
        _finish(finished, as_json=as_json)


def _finish(job: dict[str, Any], *, as_json: bool) -> None:
    job_id = job.get("id")
    status = job.get("status")
    if status == "succeeded":
        model = job.get("fine_tuned_model")
        _output.note(f"Job complete! Status: succeeded. Fine-tuned model: {model}")
        if not as_json:
            _output.echo(str(model))
        _output.note(f'Try it: ftctl complete -m {model} "<your prompt>"')
        return
    if status == "failed":
        reason = _render.job_error_message(job) or "no reason given"
        raise JobOutcomeError(
            f"job {job_id} failed: {reason}",
            ExitCode.JOB_FAILED,
            hint="fix the data (`ftctl prepare -f FILE`) and create a new job",
        )
    raise JobOutcomeError(f"job {job_id} was cancelled", ExitCode.JOB_CANCELLED)


@guarded
def follow(
    job_id_arg: JobIdArg = None,
    job_id: JobIdOpt = None,
    poll_interval: PollInterval = 5.0,
    as_json: JsonFlag = False,
) -> None:
    """Print a job's events as they arrive until it ends.

    Exit 0 when it succeeds, 3 when it fails, 4 when it is cancelled. Ctrl-C stops
    following (exit 130) and leaves the job running.
    """
    the_id = pick(job_id_arg, job_id, "job id")
    _follow(_jobs(), the_id, poll_interval=poll_interval, as_json=as_json)


# -- list, get, cancel, pause, resume ----------------------------------------------------------


@guarded
def list_jobs(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100, help="Jobs per page, newest first.")
    ] = 20,
    all_pages: Annotated[bool, typer.Option("--all", help="Read every page.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List fine-tuning jobs, newest first."""
    service = _jobs()
    page = service.list_all(page_size=limit) if all_pages else service.list_page(limit=limit)
    if as_json:
        _output.emit_json(page)
        return
    jobs = page.get("data") or []
    if not jobs:
        _output.note("No fine-tuning jobs yet: create one with `ftctl create -t FILE -m MODEL`.")
        return
    _render.print_jobs(jobs)
    if page.get("has_more") and not all_pages:
        _output.note(f"More jobs exist: pass --all, or --limit above {limit}.")


def _show_job(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _output.emit_json(job)
    else:
        _render.print_summary(_render.job_summary(job))


@guarded
def get(job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False) -> None:
    """Show one fine-tuning job."""
    _show_job(_jobs().retrieve(pick(job_id_arg, job_id, "job id")), as_json)


@guarded
def cancel(job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False) -> None:
    """Cancel a fine-tuning job that has not finished."""
    _show_job(_jobs().cancel(pick(job_id_arg, job_id, "job id")), as_json)


@guarded
def pause(job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False) -> None:
    """Pause a running fine-tuning job (resume it later with `ftctl resume`)."""
    _show_job(_jobs().pause(pick(job_id_arg, job_id, "job id")), as_json)


@guarded
def resume(job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False) -> None:
    """Resume a paused fine-tuning job."""
    _show_job(_jobs().resume(pick(job_id_arg, job_id, "job id")), as_json)


@guarded
def events(
    job_id_arg: JobIdArg = None,
    job_id: JobIdOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Events to show.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Show a job's most recent events, oldest first (the page object verbatim with --json)."""
    page = _jobs().events_page(pick(job_id_arg, job_id, "job id"), limit=limit)
    if as_json:
        _output.emit_json(page)
        return
    for event in reversed(page.get("data") or []):
        line = _render.event_line(event)
        if event.get("type") == "metrics" and event.get("data"):
            line += "  " + json.dumps(event["data"], separators=(",", ":"))
        _output.echo(line)


@guarded
def checkpoints(
    job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False
) -> None:
    """List a job's checkpoints (each a model you can use like the final one)."""
    page = _jobs().checkpoints_page(pick(job_id_arg, job_id, "job id"))
    if as_json:
        _output.emit_json(page)
        return
    for ckpt in page.get("data") or []:
        metrics = ckpt.get("metrics") or {}
        loss = metrics.get("train_loss")
        _output.echo(
            "\t".join(
                [
                    str(ckpt.get("fine_tuned_model_checkpoint", "-")),
                    f"step {ckpt.get('step_number', '-')}",
                    "-" if loss is None else f"train_loss={loss:.4f}",
                ]
            )
        )


def register(app: typer.Typer) -> None:
    app.command("create")(guarded(create))
    app.command("follow")(follow)
    app.command("list")(list_jobs)
    app.command("get")(get)
    app.command("cancel")(cancel)
    app.command("pause")(pause)
    app.command("resume")(resume)
    app.command("events")(events)
    app.command("checkpoints")(checkpoints)
