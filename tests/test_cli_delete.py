"""`ftctl delete`: asks on a terminal, refuses without --yes in a script, and the API errors."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json

FT_MODEL = "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12"
MODEL_PATH = f"/models/{FT_MODEL}"


def test_delete_with_yes(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("DELETE", MODEL_PATH, "models/deleted")
    result = run_cli("delete", "-i", FT_MODEL, "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Deleted {FT_MODEL}\n"
    api.request("DELETE", MODEL_PATH)


def test_delete_positional_json(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("DELETE", MODEL_PATH, "models/deleted")
    result = run_cli("delete", FT_MODEL, "-y", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("models/deleted")


def test_delete_refuses_without_yes_when_stdin_is_not_a_terminal(run_cli: RunCli, api: Api) -> None:
    result = run_cli("delete", "-i", FT_MODEL)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--yes" in result.stderr
    api.assert_no_requests()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from ftctl.cli import _output

    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)


@pytest.mark.usefixtures("terminal")
def test_delete_asks_on_a_terminal_and_deletes_on_yes(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("DELETE", MODEL_PATH, "models/deleted")
    result = run_cli("delete", "-i", FT_MODEL, input="y\n")
    assert result.exit_code == 0, result.output
    assert f"Delete {FT_MODEL}?" in result.stderr
    assert f"Deleted {FT_MODEL}" in result.stdout
    api.request("DELETE", MODEL_PATH)


@pytest.mark.usefixtures("terminal")
def test_delete_asks_on_a_terminal_and_keeps_on_no(run_cli: RunCli, api: Api) -> None:
    result = run_cli("delete", "-i", FT_MODEL, input="n\n")
    assert result.exit_code == 0  # declining is an answer, not an error
    assert "Nothing deleted" in result.stderr
    assert "Deleted" not in result.stdout
    api.assert_no_requests()


@pytest.mark.usefixtures("terminal")
def test_delete_on_a_terminal_defaults_to_no(run_cli: RunCli, api: Api) -> None:
    result = run_cli("delete", "-i", FT_MODEL, input="\n")
    assert result.exit_code == 0
    api.assert_no_requests()


def test_delete_unknown_model(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("DELETE", "/models/ft:123", "errors/model_not_found")
    result = run_cli("--max-retries", "0", "delete", "-i", "ft:123", "--yes")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "Error: The model 'ft:123' does not exist "
        "(HTTP 404, request req_f3aa46fca70f6e573cbd6c099b79e7ff)"
    )
    assert all(line.startswith("  next: ") for line in lines[1:])


def test_delete_without_a_model(run_cli: RunCli, api: Api) -> None:
    result = run_cli("delete", "--yes")
    assert result.exit_code == 2
    api.assert_no_requests()


@pytest.mark.usefixtures("terminal")
def test_stopping_at_the_question_is_an_interrupt_not_an_error(run_cli: RunCli, api: Api) -> None:
    result = run_cli("delete", "-i", FT_MODEL, input="")  # Ctrl-D; Click treats Ctrl-C alike
    assert result.exit_code == 130
    assert "Interrupted." in result.stderr and "Aborted!" not in result.stderr
    api.assert_no_requests()
