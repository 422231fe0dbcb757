"""`ftctl files`: list, get, download, delete and prune, against recorded-style fixtures."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from ftctl.cli import _output
from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json

RESULTS = "file-ResultsCsv0000000000001"
ORPHAN = "file-Orphan0000000000000001"
TRAINING = "file-Cbl1lel9YuFDEEYeJu0Kxyvq"
CONTENT = b"step,train_loss\n1,0.5\n"


def _content(api: Api, file_id: str = RESULTS, body: bytes = CONTENT) -> None:
    api.route_response(
        "GET",
        f"/files/{file_id}/content",
        httpx.Response(200, headers={"content-type": "application/octet-stream"}, content=body),
    )


def test_list_sends_the_purpose_and_prints_every_file(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/files", "files/list")
    result = run_cli("files", "list", "--purpose", "fine-tune")
    assert result.exit_code == 0, result.output
    assert api.request("GET", "/files").url.params["purpose"] == "fine-tune"
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [RESULTS, ORPHAN, TRAINING]
    assert lines[0].split("\t")[1:4] == ["step_metrics.csv", "fine-tune-results", "1857"]


def test_list_json_is_the_list_object(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/files", "files/list")
    result = run_cli("files", "list", "--json")
    assert json.loads(result.stdout) == fixture_json("files/list")


def test_get_shows_one_file(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", f"/files/{TRAINING}", "files/retrieved_real")
    result = run_cli("files", "get", TRAINING)
    assert result.exit_code == 0, result.output
    assert "filename  sarcastic.jsonl" in result.stdout
    assert "purpose   fine-tune" in result.stdout


def test_download_writes_under_the_files_own_name(
    run_cli: RunCli, api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    api.route_fixture("GET", f"/files/{RESULTS}", "files/results")
    _content(api)
    result = run_cli("files", "download", RESULTS)
    assert result.exit_code == 0, result.output
    target = tmp_path / "step_metrics.csv"
    assert target.read_bytes() == CONTENT
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable as any new file is
    assert os.listdir(tmp_path) == ["step_metrics.csv"]  # no temporary left behind


def test_download_never_overwrites_without_force(run_cli: RunCli, api: Api, tmp_path: Path) -> None:
    _content(api)
    target = tmp_path / "mine.csv"
    target.write_bytes(b"precious")
    result = run_cli("files", "download", RESULTS, "-o", str(target))
    assert result.exit_code == 2
    assert "exists" in result.stderr and "--force" in result.stderr
    assert target.read_bytes() == b"precious"
    result = run_cli("files", "download", RESULTS, "-o", str(target), "--force")
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == CONTENT
    assert sorted(os.listdir(tmp_path)) == ["mine.csv"]


def test_download_to_stdout(run_cli: RunCli, api: Api) -> None:
    _content(api)
    result = run_cli("files", "download", RESULTS, "-o", "-")
    assert result.exit_code == 0
    assert result.stdout_bytes == CONTENT


def test_training_uploads_cannot_be_downloaded_and_ftctl_says_so(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    api.route_fixture("GET", f"/files/{TRAINING}/content", "errors/download_refused")
    target = tmp_path / "back.jsonl"
    result = run_cli("files", "download", TRAINING, "-o", str(target))
    assert result.exit_code == 1
    assert "files uploaded with purpose fine-tune cannot be downloaded" in result.stderr
    assert "local copy" in result.stderr
    assert not target.exists()


def test_delete_without_a_terminal_needs_yes(run_cli: RunCli, api: Api) -> None:
    result = run_cli("files", "delete", ORPHAN, TRAINING)
    assert result.exit_code == 2
    assert f"ftctl files delete {ORPHAN} {TRAINING} --yes" in result.stderr
    api.assert_no_requests()


def test_delete_with_yes_deletes_each(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("DELETE", f"/files/{ORPHAN}", "files/deleted")
    api.route_fixture("DELETE", f"/files/{TRAINING}", "files/deleted")
    result = run_cli("files", "delete", ORPHAN, TRAINING, ORPHAN, "--yes")
    assert result.exit_code == 0, result.output
    assert len(api.requests("DELETE", f"/files/{ORPHAN}")) == 1
    assert len(api.requests("DELETE", f"/files/{TRAINING}")) == 1


def test_delete_asks_on_a_terminal(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    result = run_cli("files", "delete", ORPHAN, input="n\n")
    assert result.exit_code == 0
    assert "Nothing deleted." in result.stderr
    api.assert_no_requests()


def _files_by_purpose(request: httpx.Request) -> httpx.Response:
    """The list fixture, filtered by `purpose` as the service filters it."""
    page = fixture_json("files/list")
    purpose = request.url.params.get("purpose")
    page["data"] = [f for f in page["data"] if purpose in (None, f["purpose"])]
    return httpx.Response(200, headers={"content-type": "application/json"}, json=page)


def _prune_routes(api: Api, job_fixture: str) -> None:
    api.route_response("GET", "/files", _files_by_purpose)
    page = fixture_json("jobs/list_page2")
    job = fixture_json(job_fixture)
    page["data"] = [job]
    api.route_response(
        "GET",
        "/fine_tuning/jobs",
        httpx.Response(200, headers={"content-type": "application/json"}, json=page),
    )


def test_prune_keeps_the_files_of_live_jobs(run_cli: RunCli, api: Api) -> None:
    _prune_routes(api, "jobs/running")  # uses TRAINING and a validation file
    result = run_cli("files", "prune", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "1 file(s) no live job uses (1 in use, kept)" in result.stderr
    assert api.request("GET", "/files").url.params["purpose"] == "fine-tune"
    assert result.stdout.split("\t")[0] == ORPHAN
    assert TRAINING not in result.stdout


def test_prune_lists_then_asks_then_deletes(run_cli: RunCli, api: Api) -> None:
    _prune_routes(api, "jobs/succeeded")  # a finished job no longer needs its upload
    refused = run_cli("files", "prune")
    assert refused.exit_code == 2
    assert "ftctl files prune --yes" in refused.stderr
    api.route_fixture("DELETE", f"/files/{ORPHAN}", "files/deleted")
    api.route_fixture("DELETE", f"/files/{TRAINING}", "files/deleted")
    result = run_cli("files", "prune", "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2
    assert len(api.requests("DELETE", f"/files/{ORPHAN}")) == 1
    assert len(api.requests("DELETE", f"/files/{TRAINING}")) == 1
    assert not api.requests("DELETE", f"/files/{RESULTS}")


def test_an_unknown_file_id_points_to_the_files_not_the_jobs(run_cli: RunCli, api: Api) -> None:
    body = {
        "error": {
            "message": "No such File object: file-nope",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }
    }
    api.router.get("/files/file-nope").respond(404, json=body)
    result = run_cli("--max-retries", "0", "files", "get", "file-nope")
    assert result.exit_code == 1
    assert "No such File object: file-nope (HTTP 404" in result.stderr
    assert "next: check the id: `ftctl files list` shows your files" in result.stderr


def test_download_into_a_missing_directory_is_refused_before_anything_is_fetched(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    result = run_cli("files", "download", RESULTS, "-o", str(tmp_path / "nope" / "m.csv"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope'}: no such directory for the output" in result.stderr
    assert ".part" not in result.stderr  # no temporary name leaks into the message
    api.assert_no_requests()


def test_download_over_an_existing_file_is_refused_before_anything_is_fetched(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    target = tmp_path / "mine.csv"
    target.write_bytes(b"precious")
    result = run_cli("files", "download", RESULTS, "-o", str(target))
    assert result.exit_code == 2
    api.assert_no_requests()
