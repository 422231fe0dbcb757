"""The error boundary and global flags: one line per error on stderr, exit codes, retries,
--debug's redacted exchange log, the key never shown, and --help that never imports openai."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.cli import RunCli
from tests.support.respx_api import BASE_URL, FAKE_API_KEY, Api, fixture_json, fixture_response

JOB = "ftjob-abc123"
JOB_PATH = f"/fine_tuning/jobs/{JOB}"
ROOT = Path(__file__).resolve().parent.parent


def _error_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert lines, "expected an error on stderr"
    assert lines[0].startswith("Error: ")
    assert all(line.startswith("  next: ") for line in lines[1:]), stderr
    assert len(lines) <= 2
    return lines


# -- one line per error ----------------------------------------------------------------------


def test_invalid_key_401(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs", "errors/invalid_api_key")
    result = run_cli("--max-retries", "0", "list")
    assert result.exit_code == 1
    assert result.stdout == ""
    first, hint = _error_lines(result.stderr)
    assert first.startswith("Error: Incorrect API key provided: sk-test-***********123.")
    assert first.endswith("(HTTP 401, request req_401invalidkey00000000000000001)")
    assert "OPENAI_API_KEY" in hint


def test_server_error_500_without_retries(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", JOB_PATH, "errors/server_error")
    result = run_cli("--max-retries", "0", "get", JOB)
    assert result.exit_code == 1
    first = _error_lines(result.stderr)[0]
    assert first == (
        "Error: The server had an error while processing your request. Sorry about that! "
        "(HTTP 500, request req_500servererror000000000000001)"
    )
    assert len(api.requests()) == 1


def test_server_error_is_retried_by_default(run_cli: RunCli, api: Api) -> None:
    failing = fixture_response("errors/server_error", headers={"retry-after": "0.001"})
    api.route_sequence("GET", JOB_PATH, [failing, failing, "jobs/succeeded"])
    result = run_cli("get", JOB, "--json")  # default: 2 retries
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("jobs/succeeded")
    assert len(api.requests("GET", JOB_PATH)) == 3


def test_max_retries_bounds_the_attempts(run_cli: RunCli, api: Api) -> None:
    failing = fixture_response("errors/rate_limit", headers={"retry-after": "0.001"})
    api.route_sequence("GET", JOB_PATH, [failing])
    result = run_cli("--max-retries", "1", "get", JOB)
    assert result.exit_code == 1
    assert "HTTP 429" in result.stderr
    assert len(api.requests("GET", JOB_PATH)) == 2


def test_connection_error(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("GET", JOB_PATH, [httpx.ConnectError])
    result = run_cli("--max-retries", "0", "get", JOB)
    assert result.exit_code == 1
    assert result.stdout == ""
    first, hint = _error_lines(result.stderr)
    assert "Connection error" in first
    assert "OPENAI_BASE_URL" in hint


def test_no_api_key_is_a_usage_error_before_any_request(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = run_cli("get", JOB)
    assert result.exit_code == 2
    assert "OPENAI_API_KEY" in _error_lines(result.stderr)[0]
    api.assert_no_requests()


# -- --debug and the secret ----------------------------------------------------------------------


def test_debug_logs_each_exchange_with_the_key_redacted(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    result = run_cli("--debug", "--max-retries", "0", "get", "-i", JOB, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("jobs/succeeded")  # the log stays off stdout
    log = result.stderr
    assert f"GET {BASE_URL}{JOB_PATH}" in log
    assert "authorization: ***" in log.lower()
    assert "200" in log
    assert "req_" in log  # the request id of the answer
    assert FAKE_API_KEY not in log  # (run_cli checks this for every run as well)


def test_debug_shows_the_traceback_but_not_the_key(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs/123", "errors/job_not_found")
    result = run_cli("--debug", "--max-retries", "0", "get", "123")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "Error: Could not find fine tune: 123 (HTTP 404" in result.stderr
    assert result.stdout == ""


def test_the_key_is_never_printed_even_when_the_api_echoes_it(run_cli: RunCli, api: Api) -> None:
    body = {
        "error": {
            "message": f"Incorrect API key provided: {FAKE_API_KEY}.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    api.route_fixture("GET", JOB_PATH, "errors/invalid_api_key")
    api.router.routes.clear()
    api.route_response("GET", JOB_PATH, fixture_response("errors/invalid_api_key", json_body=body))
    for args in (["get", JOB], ["--debug", "get", JOB]):
        result = run_cli("--max-retries", "0", *args)  # run_cli asserts the key is absent
        assert result.exit_code == 1
        assert "Incorrect API key provided: ***" in result.stderr


def test_the_key_is_sent_as_a_bearer_token(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    run_cli("get", JOB)
    request = api.request("GET", JOB_PATH)
    assert request.headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert "openai-organization" not in request.headers
    assert "openai-project" not in request.headers


def test_org_and_project_headers(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-acme")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_123")
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    assert run_cli("get", JOB).exit_code == 0
    request = api.request("GET", JOB_PATH)
    assert request.headers["openai-organization"] == "org-acme"
    assert request.headers["openai-project"] == "proj_123"


# -- global flags ------------------------------------------------------------------------------


def test_base_url_flag_wins_over_the_environment(run_cli: RunCli, api: Api) -> None:
    route = api.router.get(f"http://127.0.0.1:8089/v1{JOB_PATH}").mock(
        return_value=fixture_response("jobs/succeeded")
    )
    result = run_cli("--base-url", "http://127.0.0.1:8089/v1", "get", JOB)
    assert result.exit_code == 0, result.output
    assert route.call_count == 1


def test_global_flags_go_before_the_subcommand(run_cli: RunCli, api: Api) -> None:
    result = run_cli("get", "-i", JOB, "--debug")
    assert result.exit_code == 2
    assert "--debug" in result.stderr
    api.assert_no_requests()


def test_unknown_command(run_cli: RunCli, api: Api) -> None:
    result = run_cli("fine_tunes.create")
    assert result.exit_code == 2
    api.assert_no_requests()


def test_version(run_cli: RunCli) -> None:
    from ftctl import __version__

    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"ftctl {__version__}\n"


# -- --help stays offline and light ---------------------------------------------------------------

COMMANDS = ["create", "follow", "list", "get", "cancel", "complete", "delete", "prepare"]


def test_help_lists_every_command(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_timeout(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("GET", JOB_PATH, [httpx.ReadTimeout])
    result = run_cli("--max-retries", "0", "--timeout", "5", "get", JOB)
    assert result.exit_code == 1
    first, hint = _error_lines(result.stderr)
    assert "timed out" in first.lower()
    assert "--timeout" in hint


def test_every_error_rule_names_an_openai_exception_that_exists() -> None:
    import openai  # noqa: F401  (rules resolve only once openai is imported)

    from ftctl.cli._errors import RULES, _resolve

    unresolved = [rule.type_path for rule in RULES if _resolve(rule.type_path) is None]
    assert unresolved == []


def test_the_boundary_wraps_every_command_once() -> None:
    import typer.main

    from ftctl.cli._errors import BoundaryGroup
    from ftctl.cli.app import app

    assert isinstance(typer.main.get_command(app), BoundaryGroup)


def test_a_permission_not_found_points_to_the_checkpoints_permissions(
    run_cli: RunCli, api: Api
) -> None:
    checkpoint = "ft:gpt-4o-mini-2024-07-18:personal::abc123:ckpt-step-90"
    body = {
        "error": {
            "message": f"No permission found with ID cp_x for checkpoint {checkpoint}.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    api.router.route(method="DELETE", path__regex=r"/permissions/cp_x$").respond(404, json=body)
    result = run_cli("--max-retries", "0", "checkpoints", "unshare", checkpoint, "cp_x", "--yes")
    assert result.exit_code == 1
    assert (
        f"next: check the id: `ftctl checkpoints permissions {checkpoint}` lists its permissions"
        in result.stderr
    )


def test_escape_sequences_in_a_file_name_are_printed_escaped(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    name = str(tmp_path / "train\x1b[31m\r.jsonl")
    result = run_cli("create", "-t", name, "-m", "davinci-002", "--yes")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert "train\\x1b[31m\\r.jsonl: no such file" in result.stderr
    api.assert_no_requests()
