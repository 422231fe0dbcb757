"""The `ftctl` command: wires one module per command group and sets per-invocation settings."""

from __future__ import annotations

from typing import Annotated

import typer

from ftctl import __version__
from ftctl.cli import _context, _examples, _startup
from ftctl.cli._errors import BoundaryGroup
from ftctl.cli._lazy import LazyGroup, Listed

# The root's commands in the order `ftctl --help` lists them. Each module's `register(app)` adds
# its commands; the summary is the first sentence of the command's help (tested to match).
COMMANDS: tuple[Listed, ...] = (
    Listed(
        "prepare",
        "ftctl.cli.prepare",
        "Check training data before anything is uploaded or paid for.",
    ),
    Listed(
        "create",
        "ftctl.cli.create",
        "Upload training data and create a fine-tuning job, then follow it.",
    ),
    Listed("follow", "ftctl.cli.follow", "Print a job's events as they arrive until it ends."),
    Listed("list", "ftctl.cli.jobs", "List fine-tuning jobs, newest first."),
    Listed("get", "ftctl.cli.jobs", "Show one fine-tuning job."),
    Listed("cancel", "ftctl.cli.jobs", "Cancel a fine-tuning job that has not finished."),
    Listed(
        "pause",
        "ftctl.cli.jobs",
        "Pause a running fine-tuning job (resume it later with `ftctl resume`).",
    ),
    Listed("resume", "ftctl.cli.jobs", "Resume a paused fine-tuning job."),
    Listed(
        "events",
        "ftctl.cli.jobs",
        "Show a job's most recent events, oldest first (the page object verbatim with --json).",
    ),
    Listed(
        "complete",
        "ftctl.cli.complete",
        "Ask a model to complete a prompt and print only the generated text.",
    ),
    Listed("delete", "ftctl.cli.models", "Delete a fine-tuned model."),
    Listed(
        "config",
        "ftctl.cli.config",
        "Show the platform, endpoint and API version ftctl would use, and where each came from.",
    ),
    Listed(
        "metrics",
        "ftctl.cli.metrics",
        "Chart a finished job's training and validation loss and accuracy.",
    ),
    Listed(
        "watch",
        "ftctl.cli.watch",
        "Watch several jobs at once: status, step, loss and time left, until all have ended.",
    ),
    Listed("run", "ftctl.cli.run", "Prepare, create, follow and try a tune in one go."),
    Listed("models", "ftctl.cli.models", "List and show the models your key can use."),
    Listed(
        "checkpoints",
        "ftctl.cli.checkpoints",
        "A job's checkpoints (`ftctl checkpoints -i JOB`, the same as `checkpoints list`), and "
        "sharing a checkpoint with other projects of the organization (share, permissions, "
        "unshare: these need an admin API key).",
    ),
    Listed(
        "files",
        "ftctl.cli.files",
        "List, show, download and delete files (training uploads, results).",
    ),
    Listed(
        "graders",
        "ftctl.cli.graders",
        "Check a grader with the service, or run it on one item and model sample.",
    ),
    Listed("mock", "ftctl.cli.mock", "Run an offline OpenAI-compatible fine-tuning service."),
)


class RootGroup(BoundaryGroup, LazyGroup):
    """The error boundary over commands that are built when used."""

    listed = COMMANDS


_startup.skip_needless_coercion()

app = typer.Typer(
    name="ftctl",
    cls=RootGroup,
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
    from ftctl.settings import Settings  # only when a command runs, not for --help

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


_examples.apply(app)


def main() -> None:
    app()
