"""`ftctl run`: prepare, create, follow and try, in one command; it stops at the first failing
step, names it, and exits with that step's code."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ftctl.cli.run import common_ending, read_sample
from tests.support.cli import RunCli
from tests.support.mock_server import running_mock
from tests.support.respx_api import (
    Api,
    fixture_json,
    json_response,
    request_json,
    request_multipart,
)

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "fixtures" / "book"
KEY = "sk-mock-run"
NO_FILES = {"object": "list", "data": [], "has_more": False, "first_id": "", "last_id": ""}


@pytest.fixture
def book_dir(tmp_path: Path) -> Path:
    shutil.copyfile(BOOK / "train_data.json", tmp_path / "train_data.json")
    return tmp_path


@pytest.fixture
def on_mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ORGANIZATION"):
        monkeypatch.delenv(name, raising=False)
    with running_mock(speed=5000, seed=3) as url:
        for name, value in {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": url,
            "FTCTL_POLL_INTERVAL": "0.02",
            "NO_COLOR": "1",
        }.items():
            monkeypatch.setenv(name, value)
        yield url


def _run(*args: str) -> Result:
    from ftctl.cli.app import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def _answer_lines(result: Result) -> dict[str, str]:
    lines = result.stdout.splitlines()
    return {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in lines[-4:] if ":" in line
    }


def test_the_book_in_one_command(on_mock: str, book_dir: Path) -> None:
    result = _run("run", "-f", str(book_dir / "train_data.json"), "-m", "davinci-002", "--yes")
    assert result.exit_code == 0, result.output
    prepared = book_dir / "train_data_prepared.jsonl"
    assert prepared.read_bytes() == (BOOK / "train_data_prepared.jsonl").read_bytes()
    answer = _answer_lines(result)
    assert answer["prompt"] == "The Adventure Begins ->"
    assert answer["expected"] == "A thrilling tale of courage and discovery."
    assert answer["answer"] == "A thrilling tale of courage and discovery"  # stop "." cuts it
    assert answer["model"].startswith("ft:davinci-002:personal::")  # the mock's org slug
    for step in ("1/4: prepare", "2/4: create", "3/4: follow", "4/4: complete"):
        assert f"== run {step}" in result.stderr
    assert 'stop=["."]' in result.stderr


def test_the_books_own_sample_and_create_flags(on_mock: str, book_dir: Path) -> None:
    result = _run(
        "run",
        "-f",
        str(book_dir / "train_data.json"),
        "-m",
        "davinci-002",
        "--sample",
        "Secrets Unveiled",
        "--suffix",
        "books",
        "--n-epochs",
        "2",
        "--yes",
    )
    assert result.exit_code == 0, result.output
    answer = _answer_lines(result)
    assert answer["prompt"] == "Secrets Unveiled ->"  # the separator prepare added
    expected = "An intriguing mystery that will keep you guessing until the end"
    assert answer["expected"] == expected + "."
    assert answer["answer"] == expected
    assert ":books:" in answer["model"]
    jobs = json.loads(_run("list", "--json").stdout)["data"]
    assert jobs[0]["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2


def test_running_it_again_says_how_to_replace_the_prepared_file(
    on_mock: str, book_dir: Path
) -> None:
    data = str(book_dir / "train_data.json")
    assert _run("run", "-f", data, "-m", "davinci-002", "--yes").exit_code == 0
    again = _run("run", "-f", data, "-m", "davinci-002", "--yes")
    assert again.exit_code == 2
    assert "run stopped at step 1/4 (prepare)" in again.stderr
    assert "next: add --force to the same command to replace it" in again.stderr
    assert len(json.loads(_run("list", "--json").stdout)["data"]) == 1  # nothing more created
    forced = _run("run", "-f", data, "-m", "davinci-002", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert _answer_lines(forced)["answer"] == "A thrilling tale of courage and discovery"


def test_a_failing_prepare_stops_at_step_1_with_its_code(on_mock: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    shutil.copyfile(ROOT / "tests" / "data" / "prepare" / "missing_completion.jsonl", bad)
    result = _run("run", "-f", str(bad), "-m", "davinci-002", "--yes")
    assert result.exit_code == 2
    assert "run stopped at step 1/4 (prepare)" in result.stderr
    assert not json.loads(_run("list", "--json").stdout)["data"]  # nothing was created


def test_data_for_the_wrong_model_says_why(on_mock: str, book_dir: Path) -> None:
    result = _run("run", "-f", str(book_dir / "train_data.json"), "-m", "gpt-4o-mini-2024-07-18")
    assert result.exit_code == 2
    assert "run stopped at step 1/4 (prepare)" in result.stderr
    assert "--to-chat" in result.stderr  # prepare's own problem line, shown


def test_a_bad_create_flag_is_refused_before_anything_runs(on_mock: str, book_dir: Path) -> None:
    result = _run("run", "-f", str(book_dir / "train_data.json"), "-m", "davinci-002", "--nope")
    assert result.exit_code == 2
    assert "--nope" in result.stderr
    assert not (book_dir / "train_data_prepared.jsonl").exists()


def test_a_failed_job_stops_at_step_3_with_exit_3(
    run_cli: RunCli, api: Api, book_dir: Path
) -> None:
    """Against recorded fixtures: upload, create, then the job fails."""
    job = fixture_json("jobs/failed")
    api.route_model_lookups()
    api.route_response("GET", "/files", json_response(200, NO_FILES))  # nothing to reuse
    api.route_fixture("POST", "/files", "files/uploaded")
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    api.route_fixture("GET", f"/fine_tuning/jobs/{job['id']}/events", "events/failed")
    api.route_fixture("GET", f"/fine_tuning/jobs/{job['id']}", "jobs/failed")
    result = run_cli("run", "-f", str(book_dir / "train_data.json"), "-m", "davinci-002", "--yes")
    assert result.exit_code == 3, result.output
    assert "run stopped at step 3/4 (follow)" in result.stderr
    assert job["error"]["message"] in result.stderr
    upload = request_multipart(api.request("POST", "/files"))
    assert upload["file"][0] == "train_data_prepared.jsonl"
    body = request_json(api.request("POST", "/fine_tuning/jobs"))
    assert body["model"] == "davinci-002"
    assert not api.requests("POST", "/completions")


def test_a_failing_completion_stops_at_step_4(run_cli: RunCli, api: Api, book_dir: Path) -> None:
    job = fixture_json("jobs/succeeded")
    api.route_model_lookups()
    api.route_response("GET", "/files", json_response(200, NO_FILES))
    api.route_fixture("POST", "/files", "files/uploaded")
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    api.route_fixture("GET", f"/fine_tuning/jobs/{job['id']}/events", "events/succeeded_all")
    api.route_fixture("GET", f"/fine_tuning/jobs/{job['id']}", "jobs/succeeded")
    api.route_fixture("POST", "/chat/completions", "errors/model_not_found")
    result = run_cli("run", "-f", str(book_dir / "train_data.json"), "-m", "davinci-002", "--yes")
    assert result.exit_code == 1
    assert "run stopped at step 4/4 (complete)" in result.stderr
    sent = request_json(api.request("POST", "/chat/completions"))
    assert sent["model"] == job["fine_tuned_model"]


def test_sample_reading_rules(tmp_path: Path) -> None:
    assert common_ending(["a ->", "bb ->", "c ->"]) == " ->"
    assert common_ending(["x", "y"]) == ""
    chat = tmp_path / "chat.jsonl"
    example = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi?"},
            {"role": "assistant", "content": "Hello."},
        ]
    }
    chat.write_text(json.dumps(example) + "\n" + json.dumps(example) + "\n")
    sample = read_sample(chat, None)
    assert (sample.prompt, sample.expected, sample.system, sample.stop) == (
        "Hi?",
        "Hello.",
        "Be brief.",
        None,
    )
