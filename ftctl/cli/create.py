"""`ftctl create`: check and upload the data, create the job, then follow it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ftctl.cli import _output
from ftctl.cli._context import current
from ftctl.cli._options import JsonFlag, YesFlag
from ftctl.cli.follow import PollInterval, follow_job, jobs_service
from ftctl.errors import InputError, UsageError
from ftctl.exit_codes import ExitCode
from ftctl.models import check_not_retired

if TYPE_CHECKING:
    from ftctl.prepare import UploadCheck


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
            hint="fix the lines listed above, then run this command again",
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
    service = jobs_service()
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
    follow_job(service, job_id, poll_interval=poll_interval, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("create")(create)
