"""ftctl's own walkthrough, end to end, against the mock on loopback (no respx: real HTTP)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from tests.support.mock_server import FakeClock, running_mock

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "fixtures" / "book"
KEY = "sk-mock-walkthrough"


Run = Callable[..., Result]


@contextmanager
def mock_and_cli(
    speed: float = 2000, clock: Callable[[], float] = time.time
) -> Iterator[tuple[str, Run]]:
    """(base URL, run) with run("create", ...) invoking ftctl in-process against a fresh mock."""
    from ftctl.cli.app import app

    with running_mock(speed=speed, seed=11, clock=clock) as url:
        env = {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": url,
            "FTCTL_POLL_INTERVAL": "0",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }

        def run(*args: str) -> Result:
            result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
            assert KEY not in result.stdout + result.stderr
            return result

        yield url, run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ORGANIZATION"):
        monkeypatch.delenv(name, raising=False)
    shutil.copyfile(BOOK / "train_data.json", tmp_path / "train_data.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def ftctl(workdir: Path) -> Iterator[tuple[str, Run]]:
    with mock_and_cli() as pair:
        yield pair


def api(url: str, path: str) -> dict[str, object]:
    body = httpx.get(url + path, headers={"Authorization": f"Bearer {KEY}"}).json()
    assert isinstance(body, dict)
    return body


def newest_job(url: str) -> dict[str, object]:
    data = api(url, "/fine_tuning/jobs?limit=1")["data"]
    assert isinstance(data, list)
    job = data[0]
    assert isinstance(job, dict)
    return job


def test_the_books_walkthrough(ftctl: tuple[str, Run]) -> None:
    url, run = ftctl

    prepared = run("prepare", "-f", "train_data.json", "-q")
    assert prepared.exit_code == 0, prepared.stderr
    lines = Path("train_data_prepared.jsonl").read_text().splitlines()
    assert len(lines) == 30
    assert json.loads(lines[1]) == {
        "prompt": "Secrets Unveiled ->",
        "completion": " An intriguing mystery that will keep you guessing until the end.",
    }

    created = run("create", "-t", "train_data_prepared.jsonl", "-m", "davinci-002", "--yes")
    assert created.exit_code == 0, created.stderr
    job = newest_job(url)
    assert job["status"] == "succeeded"
    model = str(job["fine_tuned_model"])
    assert model.startswith("ft:davinci-002:personal::")
    assert "Step 90/90: training loss=" in created.stdout + created.stderr
    assert model in created.stdout + created.stderr

    job_id = str(job["id"])
    assert run("follow", "-i", job_id).exit_code == 0
    listed = run("list")
    assert listed.exit_code == 0 and job_id in listed.stdout
    got = run("get", "-i", job_id, "--json")
    assert got.exit_code == 0 and json.loads(got.stdout)["fine_tuned_model"] == model

    answer = run("complete", "-m", model, "Secrets Unveiled ->", "--max-tokens", "30")
    assert answer.exit_code == 0, answer.stderr
    assert answer.stdout.startswith(" An intriguing mystery that will keep you guessing")
    stopped = run(
        "complete", "-m", model, "Secrets Unveiled ->", "--max-tokens", "30", "--stop", "."
    )
    assert (
        stopped.stdout.strip() == "An intriguing mystery that will keep you guessing until the end"
    )

    deleted = run("delete", "-i", model, "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    gone = run("complete", "-m", model, "Secrets Unveiled ->")
    assert gone.exit_code == 1 and "does not exist" in gone.stderr
    models = api(url, "/models")["data"]
    assert isinstance(models, list) and model not in {m["id"] for m in models}


def test_follow_reports_cancelled_and_failed_jobs(workdir: Path) -> None:
    clock = FakeClock()
    with mock_and_cli(speed=1.0, clock=clock) as (url, run):
        _cancelled_and_failed(url, run, clock)


def _cancelled_and_failed(url: str, run: Run, clock: FakeClock) -> None:
    shutil.copyfile(BOOK / "train_data_prepared.jsonl", "good.jsonl")
    spare = run("create", "-t", "good.jsonl", "-m", "davinci-002", "--no-follow", "--yes")
    assert spare.exit_code == 0, spare.stderr
    spare_id = str(newest_job(url)["id"])
    assert run("cancel", "-i", spare_id).exit_code == 0
    assert run("follow", "-i", spare_id).exit_code == 4

    # Nine examples, uploaded directly and passed by id: the service's own validation (not
    # ftctl's local checks) fails the job, and follow reports it.
    rows = Path("good.jsonl").read_bytes().splitlines(keepends=True)[:9]
    file_id = httpx.post(
        url + "/files",
        headers={"Authorization": f"Bearer {KEY}"},
        files={"file": ("nine.jsonl", b"".join(rows))},
        data={"purpose": "fine-tune"},
    ).json()["id"]
    made = run("create", "-t", file_id, "-m", "davinci-002", "--no-follow", "--yes")
    assert made.exit_code == 0, made.stderr
    clock.advance(3)  # past validating_files
    failed = run("follow", "-i", str(newest_job(url)["id"]))
    assert failed.exit_code == 3
    assert "at least 10 examples" in failed.stdout + failed.stderr


def test_mock_serve_runs_on_loopback_and_stops() -> None:
    command = [sys.executable, "-m", "ftctl", "mock", "serve", "--port", "0", "--speed", "50"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ftctl mock listening on http://127.0.0.1:")
        base = line.split()[-1]
        for _ in range(200):
            try:
                r = httpx.get(base + "/models", headers={"Authorization": "Bearer k"}, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert r.status_code == 200 and r.headers["x-request-id"].startswith("req_")
        assert httpx.get(base + "/models").status_code == 401
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert '"GET /v1/models" 200' in err and '"GET /v1/models" 401' in err  # one line a request
    assert process.returncode is not None


def test_mock_serve_refuses_a_busy_port() -> None:
    import socket

    from ftctl.cli.app import app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = CliRunner().invoke(app, ["mock", "serve", "--port", port])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_help_does_not_load_the_server() -> None:
    code = (
        "import sys; from ftctl.cli.app import app; "
        "assert not {'starlette', 'uvicorn', 'ftctl.mock.app'} & set(sys.modules), sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_the_readmes_complete_example_prints_what_the_readme_shows(
    ftctl: tuple[str, Run],
) -> None:
    """The walkthrough block in README.md: its `ftctl complete` line, run as printed (the model
    name aside), answers with the line shown under it."""
    import shlex

    url, run = ftctl
    readme = (ROOT / "README.md").read_text().splitlines()
    at = next(i for i, line in enumerate(readme) if line.startswith("$ ftctl complete -m ft:"))
    command, shown = shlex.split(readme[at][2:]), readme[at + 1]
    assert run("prepare", "-f", "train_data.json", "-q").exit_code == 0
    created = run("create", "-t", "train_data_prepared.jsonl", "-m", "davinci-002", "--yes")
    assert created.exit_code == 0, created.stderr
    command[command.index("-m") + 1] = str(newest_job(url)["fine_tuned_model"])
    answer = run(*command[1:])
    assert answer.exit_code == 0, answer.stderr
    assert answer.stdout.rstrip("\n") == shown
