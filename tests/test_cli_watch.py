"""`ftctl watch` and `ftctl follow` with several ids: every job followed until it ends, the exit
code of the worst outcome, one JSON line per status change."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json

A = "ftjob-abc123"
B = "ftjob-def456"


def _as(job_id: str, fixture: str) -> httpx.Response:
    body = fixture_json(fixture)
    body["id"] = job_id
    return httpx.Response(200, headers={"content-type": "application/json"}, json=body)


def _route_job(api: Api, job_id: str, statuses: list[str], events: str = "events/empty") -> None:
    replies = [_as(job_id, f"jobs/{status}") for status in statuses]
    api.route_sequence("GET", f"/fine_tuning/jobs/{job_id}", replies)
    api.route_fixture("GET", f"/fine_tuning/jobs/{job_id}/events", events)


def test_watch_follows_every_job_until_all_end(run_cli: RunCli, api: Api) -> None:
    _route_job(api, A, ["running", "succeeded"])
    _route_job(api, B, ["queued", "running", "running", "succeeded"])
    result = run_cli("watch", A, B)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"{A}\trunning" in lines and f"{A}\tsucceeded" in lines
    assert f"{B}\tqueued" in lines and f"{B}\tsucceeded" in lines
    assert lines[-2:] == [fixture_json("jobs/succeeded")["fine_tuned_model"]] * 2
    assert f"{A}: succeeded" in result.stderr and f"{B}: succeeded" in result.stderr
    assert not api.requests("POST", f"/fine_tuning/jobs/{A}/cancel")


def test_the_exit_code_is_the_worst_outcome(run_cli: RunCli, api: Api) -> None:
    _route_job(api, A, ["running", "cancelled"])
    _route_job(api, B, ["running", "failed"])
    result = run_cli("watch", A, B)
    assert result.exit_code == 3  # failed beats cancelled
    assert "2 of 2 job(s) did not succeed" in result.stderr
    assert "cancelled" in result.stderr


def test_cancelled_and_succeeded_exit_4(run_cli: RunCli, api: Api) -> None:
    _route_job(api, A, ["succeeded"])
    _route_job(api, B, ["cancelled"])
    assert run_cli("watch", A, B).exit_code == 4


def test_an_unknown_id_is_an_error_the_others_still_followed(run_cli: RunCli, api: Api) -> None:
    _route_job(api, A, ["running", "succeeded"])
    api.route_fixture("GET", f"/fine_tuning/jobs/{B}/events", "errors/job_not_found")
    result = run_cli("watch", A, B)
    assert result.exit_code == 1
    assert f"{A}: succeeded" in result.stderr
    assert result.stderr.count(f"{B}: Could not find fine tune") == 1  # said once, not twice


def test_json_prints_one_line_per_status_change(run_cli: RunCli, api: Api) -> None:
    _route_job(api, A, ["queued", "queued", "running", "succeeded"])
    result = run_cli("watch", A, "--json")
    assert result.exit_code == 0, result.output
    statuses = [json.loads(line)["status"] for line in result.stdout.splitlines()]
    assert statuses == ["queued", "running", "succeeded"]


def test_without_ids_it_watches_every_active_job(run_cli: RunCli, api: Api) -> None:
    page: dict[str, Any] = fixture_json("jobs/list_page2")
    running = fixture_json("jobs/running")
    running["id"] = B
    page["data"] = [running, fixture_json("jobs/succeeded")]
    api.route_response(
        "GET",
        "/fine_tuning/jobs",
        httpx.Response(200, headers={"content-type": "application/json"}, json=page),
    )
    _route_job(api, B, ["running", "succeeded"])
    result = run_cli("watch")
    assert result.exit_code == 0, result.output
    assert not api.requests("GET", f"/fine_tuning/jobs/{A}")  # finished: not watched
    assert f"{B}\tsucceeded" in result.stdout


def test_no_active_jobs(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_empty")
    result = run_cli("watch")
    assert result.exit_code == 0
    assert "No active fine-tuning jobs" in result.stderr


def test_follow_with_several_ids_prefixes_each_event(run_cli: RunCli, api: Api) -> None:
    _route_job(api, A, ["running", "succeeded"], events="events/succeeded_all")
    _route_job(api, B, ["running", "failed"], events="events/failed")
    result = run_cli("follow", A, "-i", B)
    assert result.exit_code == 3
    a_lines = [line for line in result.stdout.splitlines() if line.startswith(A + "  ")]
    b_lines = [line for line in result.stdout.splitlines() if line.startswith(B + "  ")]
    assert len(a_lines) == len(fixture_json("events/succeeded_all")["data"])
    assert len(b_lines) == len(fixture_json("events/failed")["data"])
    assert "Created fine-tuning job" in a_lines[0]
