"""`ftctl metrics`: the result file of a job, parsed, charted, written as CSV or PNG."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import httpx
import pytest

from ftctl.cli import _output
from ftctl.service import metrics as parsing
from tests.support.cli import RunCli
from tests.support.respx_api import Api

DATA = Path(__file__).parent / "data" / "metrics"
JOB = "ftjob-abc123"
RESULTS = "file-ResultsCsv0000000000001"
CSV = (DATA / "step_metrics.csv").read_bytes()


def _route_job(api: Api, content: bytes = CSV) -> None:
    api.route_fixture("GET", f"/fine_tuning/jobs/{JOB}", "jobs/succeeded")
    api.route_response(
        "GET",
        f"/files/{RESULTS}/content",
        httpx.Response(200, headers={"content-type": "application/octet-stream"}, content=content),
    )


# -- parsing -------------------------------------------------------------------------------------


def test_the_service_csv_parses_with_empty_validation_cells() -> None:
    columns, rows = parsing.parse_csv(CSV)
    assert columns == (
        "step",
        "train_loss",
        "train_accuracy",
        "valid_loss",
        "valid_mean_token_accuracy",
    )
    assert len(rows) == 30
    assert rows[0] == {
        "step": 1.0,
        "train_loss": 2.57,
        "train_accuracy": 0.225,
        "valid_loss": None,
        "valid_mean_token_accuracy": None,
    }
    assert rows[4]["valid_loss"] == 1.8737


def test_base64_content_is_decoded() -> None:
    encoded = (DATA / "step_metrics.b64").read_bytes()
    assert base64.b64decode(encoded) == CSV
    assert parsing.parse_csv(encoded) == parsing.parse_csv(CSV)


def test_reinforcement_columns_are_kept() -> None:
    columns, rows = parsing.parse_csv((DATA / "reinforcement.csv").read_bytes())
    assert "train_reward_mean" in columns and "train_grader_exact_mean" in columns
    merged = parsing.merge(JOB, [("file-x", columns, rows)])
    assert merged.series("valid_reward_mean")[0] == [2.0, 4.0, 6.0, 8.0, 10.0]


def test_not_a_metrics_file_is_a_clear_error() -> None:
    with pytest.raises(parsing.MetricsError, match="not a metrics CSV"):
        parsing.parse_csv(b'{"prompt": "x", "completion": "y"}\n', source="file-abc")
    with pytest.raises(parsing.MetricsError, match=r"file-abc:3: train_loss: not a number"):
        parsing.parse_csv(b"step,train_loss\n1,0.5\n2,lots\n", source="file-abc")


def test_csv_out_round_trips_and_names_jobs_when_several() -> None:
    columns, rows = parsing.parse_csv(CSV)
    one = parsing.merge(JOB, [(RESULTS, columns, rows)])
    assert parsing.to_csv([one]).encode() == CSV
    two = parsing.to_csv([one, parsing.merge("ftjob-other", [(RESULTS, columns, rows[:2])])])
    lines = two.splitlines()
    assert lines[0].startswith("job,step,train_loss")
    assert lines[1].startswith(f"{JOB},1,2.57")
    assert lines[-1].startswith("ftjob-other,2,")


# -- the command ---------------------------------------------------------------------------------


def test_in_a_pipe_it_prints_the_csv(run_cli: RunCli, api: Api) -> None:
    _route_job(api)
    result = run_cli("metrics", "-i", JOB)
    assert result.exit_code == 0, result.output
    assert result.stdout.encode() == CSV
    assert len(api.requests("GET", f"/files/{RESULTS}/content")) == 1


def test_on_a_terminal_it_draws_loss_and_accuracy(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _route_job(api)
    monkeypatch.setattr(_output, "stdout_is_tty", lambda: True)
    result = run_cli("metrics", "-i", JOB)
    assert result.exit_code == 0, result.output
    screen = result.stdout
    assert "\x1b[" not in screen  # NO_COLOR
    for word in ("loss", "accuracy", "train", "valid", "step"):
        assert word in screen
    assert f"{JOB}: 30 steps; train_loss 2.5700 -> " in screen
    assert "step,train_loss" not in screen


def test_csv_and_json_outputs(run_cli: RunCli, api: Api, tmp_path: Path) -> None:
    _route_job(api)
    target = tmp_path / "m.csv"
    result = run_cli("metrics", "-i", JOB, "--csv", str(target), "--json")
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == CSV
    (body,) = json.loads(result.stdout)
    assert body["job"] == JOB and body["result_files"] == [RESULTS]
    assert len(body["rows"]) == 30
    assert [row["step"] for row in body["rows"]][:3] == [1, 2, 3]
    assert all(type(row["step"]) is int for row in body["rows"])  # as the CSV writes it
    assert all(type(row["train_loss"]) is float for row in body["rows"])
    again = run_cli("metrics", "-i", JOB, "--csv", str(target))
    assert again.exit_code == 2
    assert "exists" in again.stderr and "--force" in again.stderr


def test_png_through_matplotlib(run_cli: RunCli, api: Api, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    _route_job(api)
    target = tmp_path / "loss.png"
    result = run_cli("metrics", "-i", JOB, "--png", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_without_matplotlib_says_what_to_install(
    run_cli: RunCli, api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    result = run_cli("metrics", "-i", JOB, "--png", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert "matplotlib" in result.stderr and "ftctl[plot]" in result.stderr
    api.assert_no_requests()


def test_a_job_without_results_says_so(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", f"/fine_tuning/jobs/{JOB}", "jobs/running")
    result = run_cli("metrics", "-i", JOB)
    assert result.exit_code == 1
    assert "no result file yet (status: running)" in result.stderr
    assert f"ftctl follow -i {JOB}" in result.stderr


def test_the_book_job_against_the_mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walkthrough's job on the mock: its loss drawn in the terminal, the CSV written."""
    from typer.testing import CliRunner

    from ftctl.cli.app import app
    from tests.support.mock_server import running_mock

    book = Path(__file__).parent.parent / "fixtures" / "book" / "train_data_prepared.jsonl"
    with running_mock(speed=5000) as base_url:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-mock")
        monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setenv("FTCTL_POLL_INTERVAL", "0.05")
        runner = CliRunner()
        created = runner.invoke(app, ["create", "-t", str(book), "-m", "davinci-002", "--yes"])
        assert created.exit_code == 0, created.output
        job_id = json.loads(runner.invoke(app, ["list", "--json"]).stdout)["data"][0]["id"]
        monkeypatch.setattr(_output, "stdout_is_tty", lambda: True)
        target = tmp_path / "book.csv"
        result = runner.invoke(app, ["metrics", "-i", job_id, "--csv", str(target)])
    assert result.exit_code == 0, result.output
    assert "loss" in result.stdout and "train" in result.stdout
    assert f"{job_id}: 90 steps" in result.stdout
    header, *rows = target.read_text().splitlines()
    assert header == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(rows) == 90


def test_csv_into_a_missing_directory_is_refused_before_anything_is_fetched(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    result = run_cli("metrics", "-i", JOB, "--csv", str(tmp_path / "nope" / "m.csv"))
    assert result.exit_code == 2
    assert "no such directory for the output" in result.stderr
    api.assert_no_requests()
