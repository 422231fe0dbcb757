"""Model commands: list and show models, delete a fine-tuned one (`ftctl delete`, as the book)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ftctl.cli import _output, _render
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

app = typer.Typer(
    help="List and show the models your key can use.", no_args_is_help=True, rich_markup_mode=None
)

MODEL_COLUMNS = [
    _render.Column("id", keep=True),
    _render.Column("owned by", drop=1),
    _render.Column("created", drop=2),
]


def _model_row(model: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(model.get("id", "-")),
        str(model.get("owned_by") or "-"),
        _render.timestamp(model.get("created")),
    )


def _service() -> Any:
    from ftctl.service.models import ModelsService

    return ModelsService(current().client())


@app.command("list")
def list_models(
    fine_tuned: Annotated[
        bool, typer.Option("--fine-tuned", help="Only fine-tuned models (ft:...).")
    ] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show every column.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List models, newest first (the list object verbatim with --json, filtered by
    --fine-tuned)."""
    from ftctl.service.models import is_fine_tuned

    page = _service().list()
    models = sorted(page.get("data") or [], key=lambda m: -(m.get("created") or 0))
    if fine_tuned:
        models = [m for m in models if is_fine_tuned(m)]
    page = {**page, "data": models}

    def render(page: dict[str, Any]) -> None:
        if not page["data"]:
            what = "fine-tuned models" if fine_tuned else "models"
            _output.note(f"No {what}.")
            return
        _render.print_rows(MODEL_COLUMNS, [_model_row(m) for m in page["data"]], wide=wide)

    _output.show(page, as_json, render)


@app.command("get")
def get_model(
    model_arg: ModelArg = None, model: ModelOpt = None, as_json: JsonFlag = False
) -> None:
    """Show one model: who owns it and when it was made."""
    found = _service().retrieve(pick(model_arg, model, "model name"))

    def render(found: dict[str, Any]) -> None:
        _render.print_summary(
            [
                ("id", str(found.get("id", "-"))),
                ("owned_by", str(found.get("owned_by") or "-")),
                ("created", _render.timestamp(found.get("created"))),
            ]
        )

    _output.show(found, as_json, render)


def confirm_or_refuse(question: str, what: str, retry: str) -> bool:
    """Ask on a terminal; without one, refuse (a script must say --yes). False: declined."""
    if not _output.stdin_is_tty():
        raise UsageError(
            f"refusing to delete {what} without --yes: there is no terminal to ask",
            hint=f"run `{retry}`",
        )
    return typer.confirm(question, default=False, err=True)


def delete(
    model_arg: ModelArg = None,
    model: ModelOpt = None,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete a fine-tuned model. Asks first on a terminal; scripts must pass --yes."""
    name = pick(model_arg, model, "model name")
    if not yes and not confirm_or_refuse(
        f"Delete {name}? This cannot be undone.", name, f"ftctl delete -i {name} --yes"
    ):
        _output.note("Nothing deleted.")
        raise typer.Exit(0)  # declining is an answer, not an error (like `rm -i`)
    result = _service().delete(name)
    _output.show(result, as_json, lambda result: _output.echo(f"Deleted {result.get('id', name)}"))


def register(app_: typer.Typer) -> None:
    app_.command("delete")(delete)
    app_.add_typer(app, name="models")
