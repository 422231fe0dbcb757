"""The observe-and-manage commands against the mock on loopback (real HTTP, no respx): two jobs
of the book's data, watched and followed together, then their files, models and events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.support.mock_server import running_mock

BOOK = Path(__file__).resolve().parent.parent / "fixtures" / "book" / "train_data_prepared.jsonl"
KEY = "sk-mock-observe"
Run = Callable[..., Result]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Run]:
    from ftctl.cli.app import app

    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ORGANIZATION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with running_mock(speed=200, seed=21) as url:
        env = {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": url,
            "FTCTL_POLL_INTERVAL": "0.02",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }

        def invoke(*args: str) -> Result:
            result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
            assert KEY not in result.stdout + result.stderr
            assert "Traceback" not in result.stderr
            return result

        yield invoke


def _create(run: Run, *extra: str) -> str:
    result = run("create", "-t", str(BOOK), "-m", "davinci-002", "--no-follow", "--yes", *extra)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_watch_follow_and_manage_on_the_mock(run: Run) -> None:
    first = _create(run, "--suffix", "books", "--metadata", "team=books")
    second = _create(run, "--n-epochs", "2")

    watched = run("watch", first, second, "--json")
    assert watched.exit_code == 0, watched.output
    changes = [json.loads(line) for line in watched.stdout.splitlines()]
    assert {job["id"] for job in changes} == {first, second}
    assert [j["status"] for j in changes if j["id"] == first][-1] == "succeeded"

    followed = run("follow", first, second)  # both over already: their whole logs
    assert followed.exit_code == 0, followed.output
    assert any(line.startswith(f"{second}  ") for line in followed.stdout.splitlines())

    listed = json.loads(
        run("list", "--status", "succeeded", "--metadata", "team=books", "--json").stdout
    )
    assert [job["id"] for job in listed["data"]] == [first]
    tuned = listed["data"][0]["fine_tuned_model"]
    assert ":books:" in tuned

    events = json.loads(run("events", "-i", first, "--all", "--json").stdout)["data"]
    assert len(events) > 100  # 90 steps and the rest: more than one page can hold
    assert len({e["id"] for e in events}) == len(events)

    models = run("models", "list", "--fine-tuned")
    assert tuned in models.stdout and "davinci-002\t" not in models.stdout
    assert json.loads(run("models", "get", tuned, "--json").stdout)["id"] == tuned

    results = json.loads(run("files", "list", "--purpose", "fine-tune-results", "--json").stdout)
    assert len(results["data"]) == 2
    result_id = results["data"][0]["id"]
    downloaded = run("files", "download", result_id)
    assert downloaded.exit_code == 0, downloaded.output
    assert Path("step_metrics.csv").read_text().startswith("step,train_loss,")

    pruned = run("files", "prune", "--yes")  # both jobs are over: their upload can go
    assert pruned.exit_code == 0, pruned.output
    assert not json.loads(run("files", "list", "--purpose", "fine-tune", "--json").stdout)["data"]
    assert len(json.loads(run("files", "list", "--json").stdout)["data"]) == 2  # results kept


def test_the_mock_refuses_to_hand_back_a_training_upload_as_the_service_does(run: Run) -> None:
    job = json.loads(run("get", "-i", _create(run), "--json").stdout)
    training = job["training_file"]
    downloaded = run("files", "download", training, "-o", "back.jsonl")
    assert downloaded.exit_code == 1
    assert "files uploaded with purpose fine-tune cannot be downloaded" in downloaded.stderr
    assert not Path("back.jsonl").exists()
