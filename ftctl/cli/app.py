"""The `ftctl` command: wires one module per command group and sets per-invocation settings."""

from __future__ import annotations

from typing import Annotated

import typer

from ftctl import __version__
from ftctl.cli import _context, _examples, _startup
from ftctl.cli import checkpoints as checkpoint_commands
from ftctl.cli import complete as complete_commands
from ftctl.cli import config as config_commands
from ftctl.cli import create as create_commands
from ftctl.cli import files as file_commands
from ftctl.cli import follow as follow_commands
from ftctl.cli import graders as grader_commands
from ftctl.cli import jobs as job_commands
from ftctl.cli import metrics as metrics_commands
from ftctl.cli import mock as mock_commands
from ftctl.cli import models as model_commands
from ftctl.cli import prepare as prepare_commands
from ftctl.cli import run as run_commands
from ftctl.cli import watch as watch_commands
from ftctl.cli._errors import BoundaryGroup
from ftctl.settings import Settings

_startup.skip_needless_coercion()

app = typer.Typer(
    name="ftctl",
    cls=BoundaryGroup,
    help="Fine-tune OpenAI models from a shell: prepare data, create and follow jobs, "
    "try and delete the tuned model; `ftctl mock serve` runs it all offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ftctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show tracebacks and log each HTTP exchange to stderr (API key redacted).",
        ),
    ] = False,
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            metavar="openai|azure",
            help="Platform to talk to [default: azure when AZURE_OPENAI_ENDPOINT is set, "
            "else openai]. `ftctl config` shows the choice and why.",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="API base URL of OpenAI or any OpenAI-compatible service [env: OPENAI_BASE_URL; "
            "default: https://api.openai.com/v1]; on Azure, the resource endpoint "
            "[env: AZURE_OPENAI_ENDPOINT].",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, help="Seconds to wait for each request [default: 60]."),
    ] = None,
    max_retries: Annotated[
        int | None,
        typer.Option(
            "--max-retries",
            min=0,
            help="Retries for 408/409/429/5xx and connection errors [default: 2].",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Settings shared by every command.

    Platform: OpenAI (key in OPENAI_API_KEY), any OpenAI-compatible service (--base-url or
    OPENAI_BASE_URL), or Azure OpenAI when AZURE_OPENAI_ENDPOINT is set or --provider azure
    (key in AZURE_OPENAI_API_KEY, version in OPENAI_API_VERSION). `ftctl config` prints which one
    and why; so does the first line of --debug.
    """
    _context.install(
        _context.AppState(
            settings=Settings.from_env(
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                debug=debug,
                provider=provider,
            )
        )
    )


prepare_commands.register(app)
create_commands.register(app)
follow_commands.register(app)
job_commands.register(app)
complete_commands.register(app)
model_commands.register(app)
checkpoint_commands.register(app)
config_commands.register(app)
file_commands.register(app)
metrics_commands.register(app)
watch_commands.register(app)
run_commands.register(app)
app.add_typer(grader_commands.app, name="graders")
app.add_typer(mock_commands.app, name="mock")
_examples.apply(app)


def main() -> None:
    app()
