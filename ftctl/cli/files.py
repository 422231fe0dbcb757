"""`ftctl files`: list, show, download, delete and prune uploaded and result files."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ftctl.cli import _output, _render
from ftctl.cli._context import current
from ftctl.cli._options import JsonFlag, YesFlag
from ftctl.cli.models import confirm_or_refuse
from ftctl.errors import UsageError

if TYPE_CHECKING:
    from ftctl.service.files import FilesService

app = typer.Typer(
    help="List, show, download and delete files (training uploads, results).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

FileIdArg = Annotated[str, typer.Argument(metavar="FILE_ID", help="File id (file-...).")]
PurposeOpt = Annotated[
    str | None,
    typer.Option(
        "--purpose",
        help="Only files of this purpose: fine-tune, fine-tune-results, batch, ...",
        show_default=False,
    ),
]

FILE_COLUMNS = [
    _render.Column("id", keep=True),
    _render.Column("filename", drop=1, wraps=True),
    _render.Column("purpose", drop=2, wraps=True),
    _render.Column("bytes", drop=3, justify="right"),
    _render.Column("created", drop=4),
]


def files_service() -> FilesService:
    from ftctl.service.files import FilesService

    return FilesService(current().client())


def _file_row(record: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(record.get("id", "-")),
        str(record.get("filename") or "-"),
        str(record.get("purpose") or "-"),
        str(record.get("bytes", "-")),
        _render.timestamp(record.get("created_at")),
    )


def _print_files(records: list[dict[str, Any]], wide: bool = False) -> None:
    _render.print_rows(FILE_COLUMNS, [_file_row(r) for r in records], wide=wide)


@app.command("list")
def list_files(
    purpose: PurposeOpt = None,
    wide: Annotated[bool, typer.Option("--wide", help="Show every column.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List files, newest first (every page; the list object verbatim with --json)."""
    page = files_service().list_all(purpose=purpose)

    def render(page: dict[str, Any]) -> None:
        if not page.get("data"):
            _output.note("No files." if purpose is None else f"No files with purpose {purpose}.")
            return
        _print_files(page["data"], wide)

    _output.show(page, as_json, render)


@app.command("get")
def get_file(file_id: FileIdArg, as_json: JsonFlag = False) -> None:
    """Show one file's details."""
    record = files_service().retrieve(file_id)

    def render(record: dict[str, Any]) -> None:
        _render.print_summary(
            [
                ("id", str(record.get("id", "-"))),
                ("filename", str(record.get("filename") or "-")),
                ("purpose", str(record.get("purpose") or "-")),
                ("bytes", str(record.get("bytes", "-"))),
                ("created", _render.timestamp(record.get("created_at"))),
                ("status", str(record.get("status") or "-")),
            ]
        )

    _output.show(record, as_json, render)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_target(target: Path, *, force: bool) -> None:
    """Refuse a target that cannot be written, before anything is downloaded."""
    if target.is_dir():
        raise UsageError(f"{target} is a directory", hint="pass a file name with -o")
    if target.exists() and not force:
        raise UsageError(f"{target} exists; not overwriting it", hint="pass --force to replace it")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent}: no such directory for the output")


def write_new_file(target: Path, content: bytes, *, force: bool) -> None:
    """Write atomically (a temporary file beside the target, then one rename); an existing
    target is replaced only with `force`, and never half-written."""
    check_target(target, force=force)
    directory = target.parent
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(temp, 0o666 & ~_umask())  # what open() would have given, not mkstemp's 0600
        if force:
            os.replace(temp, target)
        else:
            os.link(temp, target)  # fails if the target appeared meanwhile: no clobbering
            os.unlink(temp)
    except FileExistsError:
        os.unlink(temp)
        raise UsageError(
            f"{target} exists; not overwriting it", hint="pass --force to replace it"
        ) from None
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


@app.command("download")
def download(
    file_id: FileIdArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help='Where to write it [default: the file\'s own name, here]; "-" for stdout.',
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Download a file's content (results and outputs; the service keeps training uploads)."""
    service = files_service()
    if output is None:
        name = Path(str(service.retrieve(file_id).get("filename") or file_id)).name
        output = Path(name or file_id)
    if str(output) != "-":
        check_target(output, force=force)
    content = service.content(file_id)
    if str(output) == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    write_new_file(output, content, force=force)
    _output.note(f"Wrote {len(content):,} bytes to {output}")


def _delete_all(
    service: FilesService, records: list[dict[str, Any]], *, yes: bool, as_json: bool, retry: str
) -> None:
    ids = [str(r["id"]) for r in records]
    if not yes:
        what = ids[0] if len(ids) == 1 else f"{len(ids)} files"
        if not confirm_or_refuse(f"Delete {what}? This cannot be undone.", what, retry):
            _output.note("Nothing deleted.")
            raise typer.Exit(0)
    results = []
    for file_id in ids:
        result = service.delete(file_id)
        results.append(result)
        if not as_json:
            _output.echo(f"Deleted {result.get('id', file_id)}")
    if as_json:
        _output.emit_json(results)


@app.command("delete")
def delete_files(
    file_ids: Annotated[
        list[str], typer.Argument(metavar="FILE_ID...", help="File id(s) (file-...).")
    ],
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete files. Asks first on a terminal; scripts must pass --yes.

    With --json, prints the list of the API's deletion objects.
    """
    ids = list(dict.fromkeys(file_ids))
    retry = "ftctl files delete " + " ".join(ids) + " --yes"
    _delete_all(files_service(), [{"id": i} for i in ids], yes=yes, as_json=as_json, retry=retry)


@app.command("prune")
def prune(
    purpose: Annotated[
        str,
        typer.Option("--purpose", help="Which files to consider (all: every purpose)."),
    ] = "fine-tune",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete the files no live job uses (training and validation uploads by default).

    A job that is validating, queued, running or paused still reads its files: those stay.
    The files are listed first, then confirmed (scripts must pass --yes).
    """
    from ftctl.cli._following import jobs_service
    from ftctl.service.progress import ACTIVE_STATUSES

    service = files_service()
    files = service.list_all(purpose=None if purpose == "all" else purpose).get("data") or []
    jobs = jobs_service().list_all().get("data") or []
    in_use = {
        str(job.get(key))
        for job in jobs
        if job.get("status") in ACTIVE_STATUSES
        for key in ("training_file", "validation_file")
        if job.get(key)
    }
    unused = [f for f in files if str(f.get("id")) not in in_use]
    if not unused:
        _output.note("Nothing to prune: every file is in use by a live job, or there are none.")
        if as_json:
            _output.emit_json([])
        return
    kept = len(files) - len(unused)
    _output.note(f"{len(unused)} file(s) no live job uses ({kept} in use, kept):")
    if as_json and dry_run:
        _output.emit_json(unused)
        return
    if as_json:
        for record in unused:
            _output.note(f"  {record.get('id')}  {record.get('filename') or '-'}")
    else:
        _print_files(unused)
    if dry_run:
        return
    retry = "ftctl files prune --yes" + ("" if purpose == "fine-tune" else f" --purpose {purpose}")
    _delete_all(service, unused, yes=yes, as_json=as_json, retry=retry)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="files")
