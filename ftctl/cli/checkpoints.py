"""`ftctl checkpoints`: a job's checkpoints, and who may use a checkpoint.

    ftctl checkpoints -i JOB              the job's checkpoints (same as `checkpoints list -i JOB`)
    ftctl checkpoints share CKPT --project proj_...
    ftctl checkpoints permissions CKPT [--project P]
    ftctl checkpoints unshare CKPT PERMISSION_ID

Listing a job's checkpoints takes an ordinary key; share, permissions and unshare take an admin
key, and say so when the service refuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from ftctl.cli import _output, _render
from ftctl.cli._context import current
from ftctl.cli._following import jobs_service
from ftctl.cli._options import JobIdArg, JobIdOpt, JsonFlag, YesFlag, pick
from ftctl.errors import UsageError

if TYPE_CHECKING:
    from ftctl.service.checkpoints import CheckpointsService

LIST_COMMAND = "list"


class CheckpointsGroup(TyperGroup):
    """`ftctl checkpoints -i JOB` and `ftctl checkpoints JOB` (the spelling from before the
    permission commands existed) mean `ftctl checkpoints list ...`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [LIST_COMMAND, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=CheckpointsGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="A job's checkpoints (`ftctl checkpoints -i JOB`, the same as `checkpoints list`), "
    "and sharing a checkpoint with other projects of the organization (share, permissions, "
    "unshare: these need an admin API key).",
)

CheckpointArg = Annotated[
    str,
    typer.Argument(
        metavar="CHECKPOINT",
        help="A tuned model or checkpoint name (ft:...), as `ftctl checkpoints -i JOB` lists.",
        show_default=False,
    ),
]


def _service() -> CheckpointsService:
    from ftctl.service.checkpoints import CheckpointsService

    return CheckpointsService(current().client())


@app.command(LIST_COMMAND)
def list_checkpoints(
    job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False
) -> None:
    """List a job's checkpoints (each a model you can use like the final one).

    `ftctl checkpoints -i JOB` is the same command.
    """
    page = jobs_service().checkpoints_page(pick(job_id_arg, job_id, "job id"))
    _output.show(page, as_json, _print_checkpoints)


def _print_checkpoints(page: dict[str, Any]) -> None:
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


@app.command("share")
def share(
    checkpoint: CheckpointArg,
    projects: Annotated[
        list[str],
        typer.Option(
            "--project",
            "-p",
            help="Project id (proj_...) to share with; repeatable.",
            show_default=False,
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Let other projects of the organization use a checkpoint (needs an admin API key)."""
    wanted = list(dict.fromkeys(p.strip() for p in projects if p.strip()))
    if not wanted:
        raise UsageError("missing project", hint="pass --project proj_... (repeatable)")
    page = _service().share(checkpoint, wanted)

    def render(page: dict[str, Any]) -> None:
        for permission in page.get("data") or []:
            _output.note(
                f"Shared {checkpoint} with {permission.get('project_id')}: "
                f"permission {permission.get('id')}"
            )
        _print_permissions(page)

    _output.show(page, as_json, render)


@app.command("permissions")
def permissions(
    checkpoint: CheckpointArg,
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="Only this project's permission.", show_default=False),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the projects a checkpoint is shared with (needs an admin API key).

    Every page is read; --json prints them merged into one list object.
    """
    page = _service().permissions_all(checkpoint, project_id=project)

    def render(page: dict[str, Any]) -> None:
        if not page.get("data"):
            _output.note(
                f"{checkpoint} is not shared with "
                + (project if project else "any other project")
                + f": share it with `ftctl checkpoints share {checkpoint} --project PROJECT_ID`."
            )
            return
        _print_permissions(page)

    _output.show(page, as_json, render)


def _print_permissions(page: dict[str, Any]) -> None:
    for permission in page.get("data") or []:
        _output.echo(
            "\t".join(
                [
                    str(permission.get("id", "-")),
                    str(permission.get("project_id", "-")),
                    _render.timestamp(permission.get("created_at")),
                ]
            )
        )


@app.command("unshare")
def unshare(
    checkpoint: CheckpointArg,
    permission_id: Annotated[
        str,
        typer.Argument(
            metavar="PERMISSION_ID",
            help="The permission to remove (cp_...), as `checkpoints permissions` lists.",
            show_default=False,
        ),
    ],
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Stop sharing a checkpoint with a project (needs an admin API key).

    Asks first on a terminal; scripts must pass --yes.
    """
    if not yes:
        if not _output.stdin_is_tty():
            raise UsageError(
                f"refusing to remove {permission_id} without --yes: there is no terminal to ask",
                hint=f"run `ftctl checkpoints unshare {checkpoint} {permission_id} --yes`",
            )
        if not typer.confirm(
            f"Remove permission {permission_id} from {checkpoint}?", default=False, err=True
        ):
            _output.note("Nothing removed.")
            raise typer.Exit(0)
    result = _service().unshare(checkpoint, permission_id)
    _output.show(
        result,
        as_json,
        lambda result: _output.echo(f"Removed permission {result.get('id', permission_id)}"),
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="checkpoints")
