"""Options shared by several commands, as Annotated aliases: one spelling, one help text."""

from __future__ import annotations

from typing import Annotated

import typer

from ftctl.errors import UsageError

JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Print the API object verbatim as JSON on stdout (for jq)."),
]
YesFlag = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask for confirmation."),
]
JobIdOpt = Annotated[
    str | None,
    typer.Option("--id", "-i", help="Fine-tuning job id (ftjob-...).", show_default=False),
]
JobIdArg = Annotated[
    str | None,
    typer.Argument(
        metavar="JOB_ID", help="Fine-tuning job id (ftjob-...); same as -i.", show_default=False
    ),
]


def pick(positional: str | None, option: str | None, what: str) -> str:
    """Accept a value given either positionally or by option, but not two different ones."""
    if positional and option and positional != option:
        raise UsageError(f"two different {what}s given: '{positional}' and '{option}'")
    value = positional or option
    if not value:
        raise UsageError(f"missing {what}", hint=f"pass the {what} with -i or as an argument")
    return value


ReportJsonFlag = Annotated[
    bool,
    typer.Option(
        "--json", help="Print the report as one JSON object on stdout, nothing else (for jq)."
    ),
]
