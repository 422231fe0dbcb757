"""Which platform ftctl talks to and why: OpenAI, any OpenAI-compatible base URL, or Azure OpenAI
(AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY, OPENAI_API_VERSION, the SDK's own names, or
--provider). `ftctl config` and the first line of --debug say so; the key never shows."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import respx
from typer.testing import CliRunner, Result

from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json, fixture_response

AZURE_ENDPOINT = "https://contoso-ft.openai.azure.com"
AZURE_KEY = "azure-SECRET-key-0123456789"
API_VERSION = "2025-04-01-preview"
JOB = "ftjob-abc123"


@pytest.fixture
def azure_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "AZURE_OPENAI_ENDPOINT": AZURE_ENDPOINT,
        "AZURE_OPENAI_API_KEY": AZURE_KEY,
        "OPENAI_API_VERSION": API_VERSION,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**env, **values}


@pytest.fixture
def azure() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=f"{AZURE_ENDPOINT}/openai", assert_all_called=False) as router:
        yield router


def run(*args: str) -> Result:
    """The CLI, in-process; neither key may appear in any output."""
    from ftctl.cli.app import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    for text in (result.stdout, result.stderr):
        assert "SECRET" not in text, text
    if "--debug" not in args:
        assert "Traceback" not in result.stderr, result.stderr
    return result


# -- choosing -------------------------------------------------------------------------------------


def test_config_on_openai_says_default(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    result = run("config")
    assert result.exit_code == 0
    assert result.stdout == (
        "platform: OpenAI (default); endpoint: https://api.openai.com/v1 (default); "
        "key: OPENAI_API_KEY (set)\n"
    )


def test_config_names_a_compatible_base_url_and_its_source(env: dict[str, str]) -> None:
    result = run("--base-url", "http://127.0.0.1:8089/v1", "config")
    assert result.stdout.startswith(
        "platform: OpenAI-compatible service (default); endpoint: http://127.0.0.1:8089/v1 "
        "(--base-url)"
    )
    from_env = run("config", "--json")
    assert json.loads(from_env.stdout)["endpoint_from"] == "OPENAI_BASE_URL"


def test_config_on_azure_says_why_and_never_the_key(azure_env: dict[str, str]) -> None:
    result = run("config")
    assert result.exit_code == 0
    assert result.stdout == (
        f"platform: Azure OpenAI (AZURE_OPENAI_ENDPOINT is set); endpoint: {AZURE_ENDPOINT} "
        f"(AZURE_OPENAI_ENDPOINT); api-version: {API_VERSION} (OPENAI_API_VERSION); "
        "key: AZURE_OPENAI_API_KEY (set)\n"
    )
    as_json = json.loads(run("config", "--json").stdout)
    assert as_json["provider"] == "azure"
    assert as_json["key_set"] is True
    assert AZURE_KEY not in json.dumps(as_json)


def test_provider_openai_forces_openai_over_the_azure_variables(
    azure_env: dict[str, str], api: Api
) -> None:
    api.route_fixture("GET", f"/fine_tuning/jobs/{JOB}", "jobs/succeeded")
    result = run("--provider", "openai", "get", JOB, "--json")
    assert result.exit_code == 0, result.stderr
    sent = api.request("GET", f"/fine_tuning/jobs/{JOB}")
    assert sent.headers["authorization"] == f"Bearer {azure_env['OPENAI_API_KEY']}"
    assert "api-key" not in sent.headers
    assert run("--provider", "openai", "config").stdout.startswith("platform: OpenAI (--provider)")


def test_provider_azure_without_an_endpoint_is_refused_before_sending(
    env: dict[str, str], api: Api
) -> None:
    result = run("--provider", "azure", "get", JOB)
    assert result.exit_code == 2
    assert "Azure OpenAI needs an endpoint: set AZURE_OPENAI_ENDPOINT" in result.stderr
    api.assert_no_requests()


def test_azure_without_an_api_version_is_refused_with_the_fix(
    azure_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, azure: respx.MockRouter
) -> None:
    monkeypatch.delenv("OPENAI_API_VERSION")
    result = run("get", JOB)
    assert result.exit_code == 2
    assert "set OPENAI_API_VERSION" in result.stderr
    assert "next: export OPENAI_API_VERSION=" in result.stderr
    assert not azure.calls


def test_azure_without_a_key_names_the_azure_variable(
    azure_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    result = run("get", JOB)
    assert result.exit_code == 2
    assert "no API key: set AZURE_OPENAI_API_KEY" in result.stderr


def test_an_unknown_provider_is_a_usage_error(env: dict[str, str]) -> None:
    result = run("--provider", "bedrock", "config")
    assert result.exit_code == 2
    assert "unknown --provider 'bedrock'" in result.stderr
    assert "openai, azure" in result.stderr


# -- talking to Azure -----------------------------------------------------------------------------


def test_azure_requests_carry_the_api_key_header_and_version(
    azure_env: dict[str, str], azure: respx.MockRouter
) -> None:
    route = azure.get(f"/fine_tuning/jobs/{JOB}").mock(
        return_value=fixture_response("jobs/succeeded")
    )
    result = run("get", JOB, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == fixture_json("jobs/succeeded")
    sent = route.calls.last.request
    assert sent.url.params["api-version"] == API_VERSION
    assert sent.headers["api-key"] == AZURE_KEY
    assert "authorization" not in sent.headers


def test_debug_first_line_says_the_platform(
    azure_env: dict[str, str], azure: respx.MockRouter
) -> None:
    azure.get(f"/fine_tuning/jobs/{JOB}").mock(return_value=fixture_response("jobs/succeeded"))
    result = run("--debug", "get", JOB)
    assert result.exit_code == 0
    first = result.stderr.splitlines()[0]
    assert first.startswith("debug: platform: Azure OpenAI (AZURE_OPENAI_ENDPOINT is set);")
    assert "api-key: ***" in result.stderr


def test_debug_first_line_on_openai(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", f"/fine_tuning/jobs/{JOB}", "jobs/succeeded")
    result = run_cli("--debug", "get", JOB)
    assert result.stderr.splitlines()[0] == (
        "debug: platform: OpenAI (default); endpoint: https://api.openai.com/v1 "
        "(OPENAI_BASE_URL); key: OPENAI_API_KEY (set)"
    )
