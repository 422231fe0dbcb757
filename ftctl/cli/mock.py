"""Placeholder: being written."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run an offline OpenAI-compatible fine-tuning service.", no_args_is_help=True)
