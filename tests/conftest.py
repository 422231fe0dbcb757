"""Shared fixtures, in the style of simonw/llm's tests: small named pieces that compose.

- `env`: a recognizable fake API key, the real base URL, no org/project, no polling delay;
- `api`: a strict respx router for https://api.openai.com/v1 with fixture helpers
  (tests/support/respx_api.py);
- `run_cli`: invoke `ftctl ...` in-process with Typer's CliRunner, stdout and stderr apart; every
  run is checked for the fake key in any form (raw, escaped, quoted, any 8 of its characters past
  the public prefix) in any output, and for tracebacks without --debug.

The CLI builds its SDK client on a plain httpx.Client, so respx sees every request without any
injection.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import respx
from typer.testing import CliRunner, Result

from tests.support.cli import RunCli, assert_no_key
from tests.support.hints import check_next_commands
from tests.support.respx_api import BASE_URL, FAKE_API_KEY, Api


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The environment every CLI test runs in. Returns the values set."""
    values = {
        "OPENAI_API_KEY": FAKE_API_KEY,
        # ftctl's upload record lives under the user's state directory: one per test.
        "XDG_STATE_HOME": str(tmp_path_factory.mktemp("state")),
        "OPENAI_BASE_URL": BASE_URL,
        "FTCTL_POLL_INTERVAL": "0",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    for name in (
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "OPENAI_LOG",
        "OPENAI_ORGANIZATION",
        # A shell set up for Azure would switch ftctl to it (ftctl/settings.py).
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        "OPENAI_API_VERSION",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def api() -> Iterator[Api]:
    """A respx router for the OpenAI API; unmatched requests fail the test."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        mock = Api(router)
        yield mock
    assert not mock.unexpected, f"unexpected HTTP requests: {mock.unexpected}"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits ftctl's services asked for (instead of sleeping through them)."""
    import ftctl.service.files
    import ftctl.service.jobs

    asked: list[float] = []
    monkeypatch.setattr(ftctl.service.jobs, "wait_seconds", asked.append)
    monkeypatch.setattr(ftctl.service.files, "wait_seconds", asked.append)
    return asked


@pytest.fixture
def run_cli(env: dict[str, str], api: Api, waits: list[float]) -> RunCli:
    """`run_cli("get", "-i", "ftjob-abc123", input=None)` -> typer.testing.Result.

    Global flags go first, as on a shell: run_cli("--debug", "--max-retries", "0", "get", ...).
    Exceptions that escape the CLI's error boundary are re-raised, not turned into exit 1.
    Every command a `next:` line names is replayed and must work (tests/support/hints.py)."""
    from ftctl.cli.app import app

    def run(*args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
        for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            assert_no_key(text, FAKE_API_KEY, stream)
        if "--debug" not in args:
            assert "Traceback" not in result.stderr, result.stderr
        check_next_commands(app, result.stderr)
        return result

    assert os.environ["OPENAI_API_KEY"] == FAKE_API_KEY
    return run
