"""The type of the `run_cli` fixture (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import Result

RunCli = Callable[..., Result]
