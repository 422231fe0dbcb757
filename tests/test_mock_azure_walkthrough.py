"""The book's walkthrough, a chat job, DPO, reinforcement and checkpoint sharing through ftctl
against the mock's Azure OpenAI shape (`/openai/...`, `api-version`, `api-key`), chosen by the
SDK's own variables: AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY, OPENAI_API_VERSION. Real HTTP on
loopback, no respx."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from tests.support.mock_server import running_mock

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "fixtures" / "book"
KEY = "azure-mock-walkthrough-key"
API_VERSION = "2025-04-01-preview"


class Azure:
    """ftctl in-process with the Azure variables set, and the mock's Azure endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.env = {
            "AZURE_OPENAI_ENDPOINT": endpoint,
            "AZURE_OPENAI_API_KEY": KEY,
            "OPENAI_API_VERSION": API_VERSION,
            "OPENAI_API_KEY": "",
            "OPENAI_BASE_URL": "",
            "FTCTL_POLL_INTERVAL": "0",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from ftctl.cli.app import app

        result = CliRunner().invoke(app, list(args), env=self.env, input=input)
        assert KEY not in result.stdout + result.stderr
        if "--debug" not in args:
            assert "Traceback" not in result.stderr, result.stderr
        return result

    def get(self, path: str) -> dict[str, object]:
        """The mock's Azure API directly, as a check on what ftctl did."""
        response = httpx.get(
            f"{self.endpoint}/openai{path}",
            params={"api-version": API_VERSION},
            headers={"api-key": KEY},
        )
        body = response.json()
        assert isinstance(body, dict)
        return body


@pytest.fixture
def azure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Azure]:
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ORGANIZATION"):
        monkeypatch.delenv(name, raising=False)
    shutil.copyfile(BOOK / "train_data.json", tmp_path / "train_data.json")
    monkeypatch.chdir(tmp_path)
    with running_mock(speed=2000, seed=5) as url:
        yield Azure(url.removesuffix("/v1"))


def _lines(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_config_says_azure_and_why(azure: Azure) -> None:
    result = azure("config")
    assert result.exit_code == 0
    assert result.stdout.startswith("platform: Azure OpenAI (AZURE_OPENAI_ENDPOINT is set); ")
    assert f"api-version: {API_VERSION} (OPENAI_API_VERSION)" in result.stdout


def test_the_books_walkthrough_on_azure(azure: Azure) -> None:
    prepared = azure("prepare", "-f", "train_data.json", "-q")
    assert prepared.exit_code == 0, prepared.stderr

    created = azure("create", "-t", "train_data_prepared.jsonl", "-m", "davinci-002", "--yes")
    assert created.exit_code == 0, created.stderr
    jobs = azure.get("/fine_tuning/jobs")["data"]
    assert isinstance(jobs, list)
    job = jobs[0]
    assert job["status"] == "succeeded"
    model = str(job["fine_tuned_model"])
    assert created.stdout.strip().splitlines()[-1] == model
    # On Azure a tune answers only once deployed: ftctl says so and names the next step.
    next_line = created.stderr.strip().splitlines()[-1]
    assert next_line.startswith("Next: on Azure OpenAI a model answers only once deployed")
    assert "ftctl complete -m DEPLOYMENT_NAME 'The Adventure Begins ->' --stop ." in next_line

    for command in (["list"], ["get", "-i", str(job["id"])], ["events", "-i", str(job["id"])]):
        assert azure(*command).exit_code == 0, command
    assert azure("checkpoints", "-i", str(job["id"])).exit_code == 0

    # The mock deploys every model under its own name, so the deployment is the tune's name.
    answer = azure(
        "complete", "-m", model, "Secrets Unveiled ->", "--max-tokens", "30", "--stop", "."
    )
    assert answer.exit_code == 0, answer.stderr
    assert answer.stdout.strip()
    assert "." not in answer.stdout  # the stop prepare advised ends the answer

    deleted = azure("delete", "-i", model, "--yes")
    assert deleted.exit_code == 0, deleted.stderr


def test_a_chat_job_on_azure(azure: Azure, tmp_path: Path) -> None:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Marv is a sarcastic chatbot."},
                {"role": "user", "content": f"What is {i} plus {i}?"},
                {"role": "assistant", "content": f"{2 * i}, obviously."},
            ]
        }
        for i in range(10)
    ]
    data = _lines(tmp_path / "chat.jsonl", rows)
    created = azure("create", "-t", str(data), "-m", "gpt-4o-mini-2024-07-18", "--yes")
    assert created.exit_code == 0, created.stderr
    model = created.stdout.strip().splitlines()[-1]
    assert model.startswith("ft:gpt-4o-mini-2024-07-18:")
    answer = azure("complete", "-m", model, "What is 2 plus 2?")
    assert answer.exit_code == 0, answer.stderr
    assert answer.stdout.strip()


def test_dpo_and_reinforcement_on_azure(azure: Azure, tmp_path: Path) -> None:
    prefs = _lines(
        tmp_path / "prefs.jsonl",
        [
            {
                "input": {"messages": [{"role": "user", "content": f"Greet guest {i}."}]},
                "preferred_output": [{"role": "assistant", "content": f"Welcome, guest {i}!"}],
                "non_preferred_output": [{"role": "assistant", "content": "What do you want?"}],
            }
            for i in range(10)
        ],
    )
    dpo = azure(
        "create", "-t", str(prefs), "-m", "gpt-4o-mini-2024-07-18", "--beta", "0.2", "--yes"
    )
    assert dpo.exit_code == 0, dpo.stderr
    assert "(dpo)" in dpo.stderr

    rft = _lines(
        tmp_path / "rft.jsonl",
        [
            {
                "messages": [{"role": "user", "content": f"{i}+{i}? Digits only."}],
                "answer": str(2 * i),
            }
            for i in range(10)
        ],
    )
    grader = tmp_path / "grader.json"
    grader.write_text(
        json.dumps(
            {
                "type": "string_check",
                "name": "exact",
                "input": "{{sample.output_text}}",
                "reference": "{{item.answer}}",
                "operation": "eq",
            }
        ),
        encoding="utf-8",
    )
    made = azure(
        "create", "-t", str(rft), "-m", "o4-mini-2025-04-16", "--grader", str(grader), "--yes"
    )
    assert made.exit_code == 0, made.stderr
    assert "billed by training time" in made.stderr
    jobs = azure.get("/fine_tuning/jobs")["data"]
    assert isinstance(jobs, list)
    assert [j["method"]["type"] for j in jobs[:2]] == ["reinforcement", "dpo"]
    assert all(j["status"] == "succeeded" for j in jobs[:2])


def test_an_unknown_deployment_says_deploy_first(azure: Azure) -> None:
    result = azure("--max-retries", "0", "complete", "-m", "my-tune-not-deployed", "hello")
    assert result.exit_code == 1
    assert "next: on Azure OpenAI a model answers only once deployed" in result.stderr
