"""`ftctl config`: which platform ftctl would talk to, and how that was chosen. Sends nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from ftctl.cli import _output
from ftctl.cli._context import current

ConfigJsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Print the settings as one JSON object (never the key)."),
]


def config(as_json: ConfigJsonFlag = False) -> None:
    """Show the platform, endpoint and API version ftctl would use, and where each came from.

    One line, e.g. `platform: Azure OpenAI (AZURE_OPENAI_ENDPOINT is set); endpoint: ...;
    api-version: ... (OPENAI_API_VERSION); key: AZURE_OPENAI_API_KEY (set)`. The key itself is
    never printed. Nothing is sent.
    """
    settings = current().settings
    _output.show(settings.as_dict(), as_json, lambda _: _output.echo(settings.describe()))


def register(app: typer.Typer) -> None:
    app.command("config")(config)
