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
    from ftctl.service.files import FilesService


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


def _cost_note(path: str, check: UploadCheck) -> None:
    cost = check.estimated_cost_usd
    cost_text = "unknown (no price for this model)" if cost is None else f"${cost:,.2f}"
    _output.note(
        f"{path}: {check.examples} {check.format} examples, "
        f"{check.total_tokens:,} tokens; about {check.billed_tokens:,} billed tokens "
        f"over {check.n_epochs} epochs, estimated cost {cost_text}"
    )


def _confirm_spending(question: str, yes: bool) -> None:
    """The one rule: --yes goes ahead; a terminal is asked; anything else is refused (exit 2), so
    a script never spends by accident and never hangs on a question."""
    if yes:
        return
    if not _output.stdin_is_tty():
        raise UsageError(
            "create spends money and there is no terminal to ask: nothing was uploaded or created",
            hint="add --yes to the same command to go ahead",
        )
    if not typer.confirm(question, default=True, err=True):
        raise typer.Exit(ExitCode.OK)


def _bytes_setting(name: str, default: int) -> int:
    import os

    value = os.environ.get(name)
    if not value:
        return default
    try:
        return max(1, int(value))
    except ValueError:
        raise UsageError(f"{name} must be a number of bytes, got '{value}'") from None


def _files_service() -> FilesService:
    from ftctl.service.files import PART_LIMIT, PARTS_ABOVE, FilesService
    from ftctl.service.upload_record import UploadRecord

    return FilesService(
        current().client(),
        record=UploadRecord.default(),
        # For tests and demos of the Uploads API on small files.
        parts_above=_bytes_setting("FTCTL_UPLOAD_PARTS_ABOVE", PARTS_ABOVE),
        part_size=_bytes_setting("FTCTL_UPLOAD_PART_BYTES", PART_LIMIT),
    )


def _reuse_identical(
    service: FilesService, path: Path, sha256: str, reuse: bool | None
) -> str | None:
    """The id of an identical file already uploaded, if one should be used instead of uploading.

    Content recorded by sha256 is certainly the same: used unless --no-reuse (asked on a
    terminal). A file of the same name and size may differ: asked on a terminal, used with
    --reuse, else uploaded again."""
    if reuse is False:
        return None
    found = service.find_identical(path, sha256)
    if found is None:
        return None
    file_id = str(found.file.get("id"))
    how = "the same content" if found.certain else "the same name and size"
    if reuse is None and _output.stdin_is_tty():
        question = f"{path} was uploaded before as {file_id} ({how}). Use that file?"
        if not typer.confirm(question, default=True, err=True):
            return None
    elif reuse is None and not found.certain:
        _output.note(
            f"{file_id} has {how} as {path}, but may differ: uploading (--reuse would use it)"
        )
        return None
    _output.note(f"Using {file_id}, uploaded before with {how} as {path}")
    return file_id


def _upload(path: Path, reuse: bool | None = None) -> tuple[str, bool]:
    """(file id, whether this run uploaded it)."""
    from ftctl.service.files import PARTS_ABOVE
    from ftctl.service.upload_record import digests

    service = _files_service()
    if path.stat().st_size > PARTS_ABOVE:  # long enough to read that it deserves a word
        _output.note(f"Reading {path} to recognize a file uploaded before (sha256, md5)...")
    digest = digests(path)
    reused = _reuse_identical(service, path, digest[0], reuse)
    if reused is not None:
        return reused, False
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
            uploaded = service.upload(
                path,
                on_progress=lambda n: progress.advance(task, n),
                notify=_output.note,
                digest=digest,
            )
    else:
        uploaded = service.upload(path, notify=_output.note, digest=digest)
    file_id = str(uploaded["id"])
    _output.note(f"Uploaded file from {path}: {file_id}")
    return file_id, True


def _delete_hint(file_id: str) -> str:
    return f"ftctl files delete {file_id}"


def _say_what_is_left(uploaded: list[str], exc: BaseException) -> None:
    """After a create that failed: which files this run uploaded and how to reuse or delete
    them (unless the job exists after all and uses them)."""
    from ftctl.service.jobs import CreateInterrupted, CreateMayHaveSucceeded

    if not uploaded or (isinstance(exc, CreateInterrupted) and exc.job is not None):
        return
    maybe = isinstance(exc, (CreateMayHaveSucceeded, CreateInterrupted))
    for file_id in uploaded:
        state = "may be used by a job" if maybe else "is left on the service, unused"
        _output.note(
            f"Uploaded file {file_id} {state}: reuse it with -t {file_id}, "
            f"or delete it with `{_delete_hint(file_id)}`"
        )


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
    reuse: Annotated[
        bool | None,
        typer.Option(
            "--reuse/--no-reuse",
            help="Use (or never use) a file uploaded before with the same content, or the same "
            "name and size, instead of uploading again [default: ask on a terminal; without "
            "one, reuse only content known to be the same].",
            show_default=False,
        ),
    ] = None,
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
    for ref, check in ((training_file, train_check), (validation_file, valid_check)):
        if ref is not None and check is not None:
            _cost_note(ref, check)
    if train_check is None and valid_check is None:
        _confirm_spending(f"Start training {model} on {training_file}?", yes)
    else:
        _confirm_spending("Upload and start training?", yes)
    uploaded: list[str] = []

    def file_id(ref: str | None, check: UploadCheck | None) -> str | None:
        if ref is None or check is None:
            return ref
        the_id, new = _upload(Path(ref), reuse)
        if new:
            uploaded.append(the_id)
        return the_id

    train_id = file_id(training_file, train_check)
    valid_id = file_id(validation_file, valid_check)
    assert train_id is not None

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
    try:
        job = service.create(request, notify=_output.note)
    except BaseException as exc:
        _say_what_is_left(uploaded, exc)
        raise
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
