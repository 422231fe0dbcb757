"""`ftctl follow`: events oldest first and never twice, paging with `after`, the exit code of each
outcome, transient errors waited out, and Ctrl-C leaving the job alone."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json

JOB = "ftjob-abc123"
JOB_PATH = f"/fine_tuning/jobs/{JOB}"
EVENTS = f"{JOB_PATH}/events"
FT_MODEL = "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12"


def _oldest_first(fixture: str) -> list[dict[str, Any]]:
    return list(reversed(fixture_json(fixture)["data"]))


def _event_lines(fixture: str) -> list[str]:
    from datetime import UTC, datetime

    return [
        f"[{datetime.fromtimestamp(e['created_at'], tz=UTC):%Y-%m-%d %H:%M:%S}] {e['message']}"
        for e in _oldest_first(fixture)
    ]


def _no_cancel(api: Api) -> None:
    assert not api.requests("POST", f"{JOB_PATH}/cancel"), "following must never cancel"


def test_follow_prints_each_event_once_oldest_first(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("GET", EVENTS, ["events/poll_1", "events/poll_2", "events/poll_3"])
    api.route_sequence("GET", JOB_PATH, ["jobs/queued", "jobs/running", "jobs/succeeded"])
    result = run_cli("follow", "-i", JOB)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:-1] == _event_lines("events/succeeded_all")
    assert lines[0] == "[2024-10-15 06:54:40] Created fine-tuning job: ftjob-abc123"
    assert lines[-1] == FT_MODEL
    assert f"ftctl complete -m {FT_MODEL}" in result.stderr
    assert len(api.requests("GET", JOB_PATH)) == 3
    _no_cancel(api)


def test_follow_pages_back_with_after_until_it_meets_a_seen_event(
    run_cli: RunCli, api: Api
) -> None:
    # specific routes first: a params route matches any query containing them
    api.route_fixture("GET", EVENTS, "events/paged_2", params={"after": "ftevent-007"})
    api.route_fixture("GET", EVENTS, "events/paged_3", params={"after": "ftevent-004"})
    api.route_fixture("GET", EVENTS, "events/paged_1")
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    result = run_cli("follow", JOB)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:-1] == _event_lines("events/succeeded_all")
    afters = [r.url.params.get("after") for r in api.requests("GET", EVENTS)]
    # first poll: newest page, then older pages; the last poll stops at the first (seen) event
    assert afters == [None, "ftevent-007", "ftevent-004", None]


def test_follow_fails_with_exit_3_and_the_jobs_error(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", EVENTS, "events/failed")
    api.route_sequence("GET", JOB_PATH, ["jobs/running", "jobs/failed"])
    result = run_cli("follow", JOB)
    assert result.exit_code == 3, result.output
    assert result.stdout.splitlines() == _event_lines("events/failed")
    message = fixture_json("jobs/failed")["error"]["message"]
    last = [line for line in result.stderr.splitlines() if not line.startswith("  next:")][-1]
    assert message in last
    assert FT_MODEL not in result.stdout


def test_follow_cancelled_exits_4(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", EVENTS, "events/cancelled")
    api.route_fixture("GET", JOB_PATH, "jobs/cancelled")
    result = run_cli("follow", JOB)
    assert result.exit_code == 4, result.output
    assert "cancelled" in result.stderr
    assert result.stdout.splitlines() == _event_lines("events/cancelled")


def test_follow_json_is_one_event_per_line(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("GET", EVENTS, ["events/poll_1", "events/poll_3"])
    api.route_sequence("GET", JOB_PATH, ["jobs/running", "jobs/succeeded"])
    result = run_cli("follow", JOB, "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    objects = [json.loads(line) for line in lines]
    assert objects == _oldest_first("events/succeeded_all")  # events only, nothing else
    assert all("\n" not in line and line.startswith("{") for line in lines)
    assert FT_MODEL not in [line.strip('"') for line in lines]  # no bare text in JSON mode


def test_follow_already_finished_job(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", EVENTS, "events/succeeded_all")
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    result = run_cli("follow", JOB)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:-1] == _event_lines("events/succeeded_all")


def test_follow_copes_with_real_deviations(run_cli: RunCli, api: Api) -> None:
    """`"error": {}` on a running job is not a failure; a missing seed is not a crash."""
    api.route_sequence("GET", EVENTS, ["events/poll_2", "events/poll_3"])
    api.route_sequence("GET", JOB_PATH, ["jobs/running_deviations", "jobs/succeeded"])
    result = run_cli("follow", JOB)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == FT_MODEL


def test_follow_waits_out_transient_errors(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("GET", EVENTS, ["events/poll_1", "errors/server_error", "events/poll_3"])
    api.route_sequence(
        "GET",
        JOB_PATH,
        [
            "errors/server_error",
            "errors/rate_limit",
            httpx.ConnectError,
            "jobs/running",
            "jobs/succeeded",
        ],
    )
    result = run_cli("--max-retries", "0", "follow", JOB)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:-1] == _event_lines("events/succeeded_all")
    warnings = [line for line in result.stderr.splitlines() if "retrying" in line]
    assert len(warnings) == 4  # two 500s (job, events), a 429, a connection error
    assert sum("HTTP 500" in w for w in warnings) == 2
    assert sum("HTTP 429" in w for w in warnings) == 1
    assert sum("HTTP" not in w for w in warnings) == 1
    assert all(w.startswith("Warning: ") for w in warnings)


def test_follow_waits_out_a_transient_error_after_the_job_ended(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("GET", EVENTS, ["events/poll_3", "errors/server_error", "events/poll_3"])
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    result = run_cli("--max-retries", "0", "follow", JOB)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == FT_MODEL


def test_follow_does_not_retry_a_404(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs/123/events", "errors/job_not_found")
    result = run_cli("--max-retries", "0", "follow", "123")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Could not find fine tune: 123 (HTTP 404")
    assert len(api.requests("GET")) == 1


def test_ctrl_c_prints_status_and_resume_command_and_exits_130(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("GET", EVENTS, ["events/poll_1", KeyboardInterrupt])
    api.route_fixture("GET", JOB_PATH, "jobs/queued")
    result = run_cli("follow", JOB)
    assert result.exit_code == 130, result.output
    assert result.stdout.splitlines() == _event_lines("events/poll_1")
    assert "queued" in result.stderr
    assert f"ftctl follow -i {JOB}" in result.stderr
    assert "Traceback" not in result.stderr
    _no_cancel(api)


def test_ctrl_c_while_following_after_create(run_cli: RunCli, api: Api) -> None:
    api.route_model_lookups()
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    api.route_sequence("GET", EVENTS, ["events/poll_1", KeyboardInterrupt])
    api.route_fixture("GET", JOB_PATH, "jobs/validating_files")
    result = run_cli(
        "create", "--yes", "-t", "file-Cbl1lel9YuFDEEYeJu0Kxyvq", "-m", "gpt-4o-mini-2024-07-18"
    )
    assert result.exit_code == 130, result.output
    assert f"ftctl follow -i {JOB}" in result.stderr
    _no_cancel(api)


def test_follow_without_an_id_is_a_usage_error(run_cli: RunCli, api: Api) -> None:
    result = run_cli("follow")
    assert result.exit_code == 2
    api.assert_no_requests()


def test_a_paused_job_is_followed_until_it_ends(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("GET", EVENTS, ["events/poll_2", "events/poll_3"])
    api.route_sequence("GET", JOB_PATH, ["jobs/paused", "jobs/running", "jobs/succeeded"])
    result = run_cli("follow", JOB, "--poll-interval", "0")
    assert result.exit_code == 0, result.output
    assert len(api.requests("GET", JOB_PATH)) == 3
    assert result.stdout.splitlines()[-1] == FT_MODEL


def test_poll_interval_must_not_be_negative(run_cli: RunCli, api: Api) -> None:
    result = run_cli("follow", JOB, "--poll-interval", "-1")
    assert result.exit_code == 2
    api.assert_no_requests()


def test_event_times_are_utc_whatever_the_local_zone(run_cli: RunCli, api: Api) -> None:
    import os
    import time

    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        api.route_fixture("GET", EVENTS, "events/poll_1")
        api.route_fixture("GET", JOB_PATH, "jobs/cancelled")
        result = run_cli("follow", JOB)
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
    assert result.stdout.splitlines()[0].startswith("[2024-10-15 06:54:40] ")  # not 02:54:40
