"""Model commands: delete a fine-tuned model."""

from __future__ import annotations

from typing import Annotated

import typer

from ftctl.cli import _output
from ftctl.cli._context import current
from ftctl.cli._options import JsonFlag, YesFlag, pick
from ftctl.errors import UsageError

ModelArg = Annotated[
    str | None,
    typer.Argument(
        metavar="MODEL", help="Fine-tuned model name (ft:...); same as -i.", show_default=False
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--id", "-i", help="Fine-tuned model name (ft:...).", show_default=False),
]


def delete(
    model_arg: ModelArg = None,
    model: ModelOpt = None,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete a fine-tuned model. Asks first on a terminal; scripts must pass --yes."""
    from ftctl.service.models import ModelsService

    name = pick(model_arg, model, "model name")
    if not yes:
        if not _output.stdin_is_tty():
            raise UsageError(
                f"refusing to delete {name} without --yes: there is no terminal to ask",
                hint=f"run `ftctl delete -i {name} --yes`",
            )
        if not typer.confirm(f"Delete {name}? This cannot be undone.", default=False, err=True):
            _output.note("Nothing deleted.")
            raise typer.Exit(0)  # declining is an answer, not an error (like `rm -i`)
    result = ModelsService(current().client()).delete(name)
    _output.show(result, as_json, lambda result: _output.echo(f"Deleted {result.get('id', name)}"))


def register(app: typer.Typer) -> None:
    app.command("delete")(delete)
