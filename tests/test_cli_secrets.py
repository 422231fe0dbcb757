"""The key never shows: checked before any request, every form of it redacted from every message,
`--debug` line and traceback, URL credentials too, and ordinary text left alone."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ftctl.secrets import MASK, redact
from tests.support.cli import RunCli, assert_no_key
from tests.support.respx_api import BASE_URL, FAKE_API_KEY, Api, fixture_response

JOB = "ftjob-abc123"
JOB_PATH = f"/fine_tuning/jobs/{JOB}"
MODEL_ID = "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12"


# -- the key is checked before it is sent -----------------------------------------------------


def test_whitespace_around_the_key_is_removed_and_said(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key read from a file keeps its newline; it used to be printed in clear in a
    "Connection error ... Illegal header value b'Bearer sk-...\\n'"."""
    monkeypatch.setenv("OPENAI_API_KEY", f"  {FAKE_API_KEY}\n")
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    result = run_cli("get", JOB)
    assert result.exit_code == 0, result.output
    assert "removed whitespace around the value of OPENAI_API_KEY" in result.stderr
    assert api.request("GET", JOB_PATH).headers["authorization"] == f"Bearer {FAKE_API_KEY}"


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (f"{FAKE_API_KEY[:9]}\x01{FAKE_API_KEY[9:]}", "control or space character at position 10"),
        (f"{FAKE_API_KEY[:9]}\n{FAKE_API_KEY[9:]}", "control or space character at position 10"),
        (f"{FAKE_API_KEY}é", f"non-ASCII character at position {len(FAKE_API_KEY) + 1}"),
    ],
)
def test_a_key_that_cannot_be_sent_is_refused_before_any_request(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch, key: str, words: str
) -> None:
    """A non-ASCII key used to end in "internal error: UnicodeEncodeError"."""
    monkeypatch.setenv("OPENAI_API_KEY", key)
    result = run_cli("--debug", "get", JOB)
    assert result.exit_code == 2, result.output
    first = result.stderr.strip().splitlines()[-2]
    assert first.startswith(f"Error: OPENAI_API_KEY has a {words}")
    assert "internal error" not in result.stderr
    api.assert_no_requests()


def test_an_org_id_with_a_newline_is_cleaned_not_called_a_network_error(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-acme\n")
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    result = run_cli("get", JOB)
    assert result.exit_code == 0, result.output
    assert api.request("GET", JOB_PATH).headers["openai-organization"] == "org-acme"


# -- URL credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://user:hunter2-password@127.0.0.1:9/v1",
        "http://127.0.0.1:9/v1?api_key=hunter2-password",
        "http://127.0.0.1:9/v1?api-version=2024-10-21&access_token=hunter2-password",
    ],
)
@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_credentials_in_the_base_url_never_show(
    run_cli: RunCli, api: Api, base_url: str, debug: list[str]
) -> None:
    api.router.route(host="127.0.0.1").mock(side_effect=httpx.ConnectError("refused"))
    result = run_cli(*debug, "--base-url", base_url, "--max-retries", "0", "get", JOB)
    assert result.exit_code == 1
    assert "hunter2" not in result.output, result.output
    assert "127.0.0.1" in result.stderr  # the rest of the URL still says where ftctl went
    if not debug:
        assert result.stderr.startswith("Error: Connection error")


def test_redact_removes_userinfo_and_credential_queries_only() -> None:
    text = "GET http://u:p4ss@h/v1/files?limit=5&api_key=abc&after=file-1 and https://h/v1?x=1"
    assert redact(text, None) == (
        f"GET http://{MASK}@h/v1/files?limit=5&api_key={MASK}&after=file-1 and https://h/v1?x=1"
    )


# -- every form of the key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shown",
    [
        FAKE_API_KEY,
        repr(FAKE_API_KEY + "\n"),  # 'sk-...\n' as Python prints a str
        repr((FAKE_API_KEY + "\n").encode()),  # b'sk-...\n' as h11 prints a header
        json.dumps(FAKE_API_KEY),
        "sk-test-SECRET-1",  # truncated
        "test-SECRET-123",  # the public prefix cut off
        f"'{FAKE_API_KEY}'",  # quoted
        f"%22{FAKE_API_KEY}%0A%22",  # percent-quoted in a URL
    ],
)
def test_redact_removes_every_form_of_the_key(shown: str) -> None:
    redacted = redact(f"Illegal header value {shown} here", FAKE_API_KEY + "\n")
    assert_no_key(redacted, FAKE_API_KEY, "the redacted text")
    assert redacted.startswith("Illegal header value ") and redacted.endswith(" here")


def test_redact_keeps_the_prefix_the_api_itself_shows() -> None:
    text = "Incorrect API key provided: sk-test-***********123."
    assert redact(text, FAKE_API_KEY) == text


def test_a_short_key_is_redacted_only_where_it_stands_alone() -> None:
    """With the mock's OPENAI_API_KEY=x, `next:` used to print as `ne***t:`."""
    assert redact("  next: check the id, x", "x") == f"  next: check the id, {MASK}"
    assert redact("Bearer x\n", "x") == f"Bearer {MASK}\n"


def test_a_short_key_leaves_messages_readable(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    api.route_fixture("GET", "/fine_tuning/jobs/123", "errors/job_not_found")
    result = run_cli("--max-retries", "0", "get", "123")
    assert result.exit_code == 1
    assert "  next: check the id" in result.stderr
    assert "***" not in result.stderr


# -- the sweep: every command's failure paths with a marked key ------------------------------------

COMMANDS: list[list[str]] = [
    ["list"],
    ["list", "--all"],
    ["get", JOB],
    ["cancel", JOB],
    ["pause", JOB],
    ["resume", JOB],
    ["events", JOB],
    ["checkpoints", JOB],
    ["follow", JOB, "--give-up-after", "0"],
    ["create", "-t", "file-abc", "-m", "gpt-4o-mini-2024-07-18", "--no-follow", "--yes"],
    ["complete", "-m", MODEL_ID, "hello"],
    ["delete", MODEL_ID, "--yes"],
]


def _echoing_the_key(status: int) -> httpx.Response:
    """An error whose message holds the key in every form the sweep knows."""
    forms = [FAKE_API_KEY, repr(FAKE_API_KEY + "\n"), json.dumps(FAKE_API_KEY), FAKE_API_KEY[2:]]
    body = {
        "error": {
            "message": "bad key " + " ".join(forms),
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    return fixture_response("errors/invalid_api_key", status=status, json_body=body)


FAILURES = {
    "401-echo": lambda request: _echoing_the_key(401),
    "500-echo": lambda request: _echoing_the_key(500),
    "connect": httpx.ConnectError(f"Illegal header value b'Bearer {FAKE_API_KEY}\\n'"),
    "timeout": httpx.ReadTimeout(f"read timed out for {FAKE_API_KEY}"),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[:2]))
@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
def test_no_failure_of_any_command_shows_the_key(
    run_cli: RunCli,
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    failure: str,
    command: list[str],
    debug: list[str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY + "\n")
    api.router.route(url__startswith=BASE_URL).mock(side_effect=FAILURES[failure])
    result = run_cli(*debug, "--max-retries", "0", "--timeout", "1", *command)
    assert result.exit_code != 0, result.output  # run_cli asserts the key is in no output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- a host that does not exist fails at once ------------------------------------------------------


def test_an_unresolvable_host_is_not_retried(run_cli: RunCli, api: Api) -> None:
    import socket

    def no_such_host(request: httpx.Request) -> httpx.Response:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    route = api.router.route(url__startswith=BASE_URL).mock(side_effect=no_such_host)
    result = run_cli("get", JOB)  # default: 2 retries, none used
    assert result.exit_code == 1
    assert route.call_count == 1
    assert "cannot resolve the host name 'api.openai.com'" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["create", "--yes", "-t", "file-abc", "-m", "gpt-4o-mini-2024-07-18"], ["follow", JOB]],
)
def test_an_unresolvable_host_fails_create_and_follow_at_once(
    run_cli: RunCli, api: Api, command: list[str], waits: list[float]
) -> None:
    import socket

    def no_such_host(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            str(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
        )

    route = api.router.route(url__startswith=BASE_URL).mock(side_effect=no_such_host)
    result = run_cli(*command)
    assert result.exit_code == 1
    assert route.call_count == 1
    assert waits == []
    assert "cannot resolve the host name" in result.stderr
