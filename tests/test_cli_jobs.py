"""`ftctl list`, `get`, `cancel` (and `pause`, `resume`, `events`, `checkpoints`) through the real
CLI against respx routes fed by fixtures/api."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json

JOB = "ftjob-abc123"
JOB_PATH = f"/fine_tuning/jobs/{JOB}"


# -- get -------------------------------------------------------------------------------------


def test_get_json_prints_the_api_object_verbatim(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    result = run_cli("get", "-i", JOB, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("jobs/succeeded")
    assert result.stderr == ""
    api.request("GET", JOB_PATH)


def test_get_accepts_the_id_positionally(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", JOB_PATH, "jobs/succeeded")
    result = run_cli("get", JOB)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["id"] == JOB
    assert lines["status"] == "succeeded"
    assert lines["fine_tuned_model"] == "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12"
    assert lines["created"] == "2024-10-15 06:54:40"  # UTC
    assert lines["hyperparameters"] == "n_epochs=3 batch_size=1 learning_rate_multiplier=1.8"
    assert lines["trained_tokens"] == "5070"
    assert lines["error"] == "-"


def test_get_shows_a_failed_jobs_error(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", JOB_PATH, "jobs/failed")
    result = run_cli("get", JOB)
    assert result.exit_code == 0  # showing a failed job is not itself a failure
    message = fixture_json("jobs/failed")["error"]["message"]
    assert message in result.stdout


@pytest.mark.parametrize(
    "fixture", ["jobs/created_real", "jobs/succeeded_2023", "jobs/running_deviations"]
)
def test_get_copes_with_real_deviations(run_cli: RunCli, api: Api, fixture: str) -> None:
    """`"error": {}` is not a failure and a missing `seed` is not a crash."""
    body = fixture_json(fixture)
    api.route_fixture("GET", f"/fine_tuning/jobs/{body['id']}", fixture)
    result = run_cli("get", body["id"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["status"] == body["status"]
    assert lines["error"] == "-"
    assert lines["seed"] == str(body.get("seed", "-"))
    as_json = run_cli("get", body["id"], "--json")
    assert json.loads(as_json.stdout) == body


def test_get_two_different_ids_is_a_usage_error(run_cli: RunCli, api: Api) -> None:
    result = run_cli("get", JOB, "-i", "ftjob-other")
    assert result.exit_code == 2
    assert "two different" in result.stderr
    assert result.stdout == ""
    api.assert_no_requests()


def test_get_without_an_id_is_a_usage_error(run_cli: RunCli, api: Api) -> None:
    result = run_cli("get")
    assert result.exit_code == 2
    assert "missing job id" in result.stderr
    api.assert_no_requests()


def test_get_unknown_job_is_one_line_with_status_and_request_id(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs/123", "errors/job_not_found")
    result = run_cli("--max-retries", "0", "get", "-i", "123")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    request_id = "4df7f8b0ba83e6a8aa9b8fa976bef023"  # the recording's x-request-id
    assert lines[0] == f"Error: Could not find fine tune: 123 (HTTP 404, request {request_id})"
    assert lines[1].startswith("  next: ")
    assert len(lines) == 2


# -- cancel, pause, resume -----------------------------------------------------------------


def test_cancel_posts_and_prints_the_cancelled_job(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", f"{JOB_PATH}/cancel", "jobs/cancelled")
    result = run_cli("cancel", "-i", JOB, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("jobs/cancelled")
    request = api.request("POST", f"{JOB_PATH}/cancel")
    assert request.url.params.get("after") is None


def test_cancel_positional_text(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", f"{JOB_PATH}/cancel", "jobs/cancelled")
    result = run_cli("cancel", JOB)
    assert result.exit_code == 0, result.output
    assert "cancelled" in result.stdout
    api.request("POST", f"{JOB_PATH}/cancel")


def test_cancel_unknown_job(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/fine_tuning/jobs/123/cancel", "errors/job_not_found")
    result = run_cli("--max-retries", "0", "cancel", "123")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Could not find fine tune: 123 (HTTP 404")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("command", "fixture"), [("pause", "jobs/paused"), ("resume", "jobs/running")]
)
def test_pause_and_resume(run_cli: RunCli, api: Api, command: str, fixture: str) -> None:
    api.route_fixture("POST", f"{JOB_PATH}/{command}", fixture)
    result = run_cli(command, JOB, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json(fixture)
    api.request("POST", f"{JOB_PATH}/{command}")


# -- list ------------------------------------------------------------------------------------


def test_list_prints_tab_separated_rows_when_piped(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page1")
    result = run_cli("list")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows == [
        [
            JOB,
            "gpt-4o-mini-2024-07-18",
            "succeeded",
            "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12",
            "2024-10-15 06:54:40",
            "5070",
        ],
        ["ftjob-def456", "gpt-4o-mini-2024-07-18", "running", "-", "2024-10-15 05:54:40", "-"],
    ]
    # has_more: the hint goes to stderr, never into the data
    assert "--all" in result.stderr
    request = api.request("GET", "/fine_tuning/jobs")
    assert request.url.params.get("limit") == "20"
    assert "after" not in request.url.params


def test_list_limit_is_sent(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page2")
    result = run_cli("list", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert api.request("GET", "/fine_tuning/jobs").url.params["limit"] == "2"
    assert result.stderr == ""  # no more pages: no hint


def test_list_json_is_the_page_verbatim(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page1")
    result = run_cli("list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("jobs/list_page1")


def test_list_all_follows_after_and_merges_pages(run_cli: RunCli, api: Api) -> None:
    api.route_fixture(
        "GET", "/fine_tuning/jobs", "jobs/list_page2", params={"after": "ftjob-def456"}
    )
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page1")
    result = run_cli("list", "--all", "--json")
    assert result.exit_code == 0, result.output
    page1, page2 = fixture_json("jobs/list_page1"), fixture_json("jobs/list_page2")
    merged = json.loads(result.stdout)
    assert merged["object"] == "list"
    assert merged["data"] == page1["data"] + page2["data"]
    assert merged["has_more"] is False
    first, second = api.requests("GET", "/fine_tuning/jobs")
    assert "after" not in first.url.params
    assert second.url.params["after"] == "ftjob-def456"


def test_list_all_text_has_every_row_and_no_more_hint(run_cli: RunCli, api: Api) -> None:
    api.route_fixture(
        "GET", "/fine_tuning/jobs", "jobs/list_page2", params={"after": "ftjob-def456"}
    )
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page1")
    result = run_cli("list", "--all")
    assert result.exit_code == 0, result.output
    ids = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert ids == [JOB, "ftjob-def456", "ftjob-ghi789", "ftjob-jkl012"]  # newest first
    assert "--all" not in result.stderr


def test_list_on_a_terminal_is_a_table(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftctl.cli import _output

    monkeypatch.setattr(_output, "stdout_is_tty", lambda: True)
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page2")
    result = run_cli("list")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0]
    for column in ("id", "model", "status", "fine-tuned model", "created", "trained tokens"):
        assert column in header
    assert "\t" not in result.stdout
    assert "ftjob-ghi789" in result.stdout and "ftjob-jkl012" in result.stdout


def test_list_empty(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_empty")
    result = run_cli("list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No fine-tuning jobs" in result.stderr


def test_list_2023_jobs_without_seed(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_2023")
    result = run_cli("list")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3


@pytest.mark.parametrize("limit", ["0", "101"])
def test_list_limit_out_of_range(run_cli: RunCli, api: Api, limit: str) -> None:
    result = run_cli("list", "--limit", limit)
    assert result.exit_code == 2
    api.assert_no_requests()


# -- events, checkpoints ----------------------------------------------------------------------


def test_events_prints_oldest_first_with_metrics(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", f"{JOB_PATH}/events", "events/succeeded_all")
    result = run_cli("events", JOB)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "[2024-10-15 06:54:40] Created fine-tuning job: ftjob-abc123"
    assert lines[-1] == "[2024-10-15 07:11:40] The job has successfully completed"
    step = next(line for line in lines if "Step 10/30" in line)
    assert '"train_loss":1.0207' in step
    assert api.request("GET", f"{JOB_PATH}/events").url.params["limit"] == "20"


def test_events_json_is_verbatim(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", f"{JOB_PATH}/events", "events/succeeded_all")
    result = run_cli("events", "-i", JOB, "--json", "--limit", "5")
    assert json.loads(result.stdout) == fixture_json("events/succeeded_all")
    assert api.request("GET", f"{JOB_PATH}/events").url.params["limit"] == "5"


def test_checkpoints(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", f"{JOB_PATH}/checkpoints", "checkpoints/list")
    result = run_cli("checkpoints", JOB)
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == [
        "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12:ckpt-step-30",
        "step 30",
        "train_loss=0.3128",
    ]
    as_json = run_cli("checkpoints", JOB, "--json")
    assert json.loads(as_json.stdout) == fixture_json("checkpoints/list")
