"""Issue 8's walkthrough on the mock's OpenAI shape: preference data makes a DPO job and a grader
makes a reinforcement job, both without --method, followed to `succeeded` (exit 0); their tuned
models answer; the reinforcement job reports rewards from its grader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from tests.support.mock_server import running_mock

KEY = "sk-methods-walkthrough"
EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


class Ftctl:
    def __init__(self, url: str) -> None:
        self.url = url
        self.env = {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": url,
            "FTCTL_POLL_INTERVAL": "0",
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "AZURE_OPENAI_ENDPOINT": "",
        }

    def __call__(self, *args: str) -> Result:
        from ftctl.cli.app import app

        result = CliRunner().invoke(app, list(args), env=self.env)
        assert KEY not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def get(self, path: str) -> dict[str, object]:
        body = httpx.get(self.url + path, headers={"Authorization": f"Bearer {KEY}"}).json()
        assert isinstance(body, dict)
        return body


@pytest.fixture
def ftctl(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Ftctl]:
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ORGANIZATION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with running_mock(speed=2000, seed=11) as url:
        yield Ftctl(url)


def _jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_preference_data_trains_a_dpo_model_that_answers(ftctl: Ftctl, tmp_path: Path) -> None:
    data = _jsonl(
        tmp_path / "prefs.jsonl",
        [
            {
                "input": {"messages": [{"role": "user", "content": f"Greet guest {i}."}]},
                "preferred_output": [{"role": "assistant", "content": f"Welcome, guest {i}!"}],
                "non_preferred_output": [{"role": "assistant", "content": "What?"}],
            }
            for i in range(10)
        ],
    )
    created = ftctl("create", "-t", str(data), "-m", "gpt-4o-mini-2024-07-18", "--yes")
    assert created.exit_code == 0, created.stderr
    model = created.stdout.strip().splitlines()[-1]
    job = ftctl.get("/fine_tuning/jobs?limit=1")["data"][0]  # type: ignore[index]
    assert job["method"]["type"] == "dpo" and job["status"] == "succeeded"
    assert job["fine_tuned_model"] == model
    answer = ftctl("complete", "-m", model, "Greet guest 3.")
    assert answer.exit_code == 0, answer.stderr
    assert "Welcome, guest 3!" in answer.stdout  # the preferred reply, learned


def test_a_string_check_grader_trains_a_reinforcement_model(ftctl: Ftctl, tmp_path: Path) -> None:
    data = _jsonl(
        tmp_path / "sums.jsonl",
        [
            {
                "messages": [{"role": "user", "content": f"{i}+{i}? Digits only."}],
                "answer": str(2 * i),
            }
            for i in range(12)
        ],
    )
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(EXACT), encoding="utf-8")
    created = ftctl("create", "-t", str(data), "-m", "o4-mini", "--grader", str(grader), "--yes")
    assert created.exit_code == 0, created.stderr
    assert "billed by training time" in created.stderr
    model = created.stdout.strip().splitlines()[-1]
    job = ftctl.get("/fine_tuning/jobs?limit=1")["data"][0]  # type: ignore[index]
    assert job["method"]["type"] == "reinforcement" and job["status"] == "succeeded"
    assert job["method"]["reinforcement"]["grader"]["name"] == "exact"
    events = ftctl.get(f"/fine_tuning/jobs/{job['id']}/events?limit=100")["data"]
    rewards = [
        e["data"]["train_reward_mean"]
        for e in events  # type: ignore[union-attr]
        if e.get("type") == "metrics" and "train_reward_mean" in (e.get("data") or {})
    ]
    assert rewards, "a reinforcement job reports its rewards"
    answer = ftctl("complete", "-m", model, "3+3? Digits only.")
    assert answer.exit_code == 0, answer.stderr
    assert answer.stdout.strip()


def test_graders_validate_and_run_against_the_mock(ftctl: Ftctl, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(EXACT), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**EXACT, "operation": "eqq"}), encoding="utf-8")
    assert ftctl("graders", "validate", str(good)).exit_code == 0
    refused = ftctl("graders", "validate", str(broken))
    assert refused.exit_code != 0 and "eqq" in refused.stderr
    item = json.dumps({"answer": "4"})
    right = ftctl("graders", "run", str(good), "--item", item, "--sample", "4", "--json")
    wrong = ftctl("graders", "run", str(good), "--item", item, "--sample", "5", "--json")
    assert json.loads(right.stdout)["reward"] == 1.0
    assert json.loads(wrong.stdout)["reward"] == 0.0
