"""Issue 13's CLI defects, each as the user met it: Ctrl-C during the job POST, confirmations in
a pipe and for `file-...` ids, reused uploads, silent or unbounded waits, follow against a dead
service, and paging loops against a server that ignores `after`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json, json_response, request_json

MODEL = "gpt-4o-mini-2024-07-18"
TRAIN_ID = "file-Cbl1lel9YuFDEEYeJu0Kxyvq"
JOB = "ftjob-abc123"
JOB_PATH = f"/fine_tuning/jobs/{JOB}"
EMPTY_LIST = {"object": "list", "data": [], "has_more": False}


def _token_sent(api: Api) -> str:
    token = request_json(api.requests("POST", "/fine_tuning/jobs")[0])["metadata"]["ftctl_request"]
    assert isinstance(token, str)
    return token


def _ctrl_c_once_sent(sent: list[httpx.Request]) -> object:
    """A POST side effect: note the request, then Ctrl-C as if pressed while it was in flight."""

    def side_effect(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise KeyboardInterrupt

    return side_effect


def _listing_the_created_job(request: httpx.Request) -> httpx.Response:
    job = fixture_json("jobs/created")
    job["metadata"] = {"ftctl_request": request.url.params["metadata[ftctl_request]"]}
    return json_response(200, {"object": "list", "data": [job], "has_more": False})


@pytest.fixture(autouse=True)
def known_models(api: Api) -> None:
    """`create` asks the service for the model (and so checks the key) before uploading."""
    api.route_model_lookups()


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    lines = [
        {
            "messages": [
                {"role": "user", "content": f"What is {i} plus {i}?"},
                {"role": "assistant", "content": f"{2 * i}, obviously."},
            ]
        }
        for i in range(10)
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _stored_on_the_third_listing(api: Api, train_file: Path) -> dict[str, object]:
    """The service lists no file twice (before the upload, after the lost answer), then the one
    the upload did store."""
    stored = {**fixture_json("files/uploaded"), "filename": "train.jsonl"}
    stored["bytes"] = train_file.stat().st_size
    api.route_sequence(
        "GET",
        "/files",
        [
            json_response(200, EMPTY_LIST),
            json_response(200, EMPTY_LIST),
            json_response(200, {"object": "list", "data": [stored]}),
        ],
    )
    return stored


# -- Ctrl-C while the job POST is in flight -------------------------------------------------------


def test_ctrl_c_during_the_job_post_says_the_job_was_created(run_cli: RunCli, api: Api) -> None:
    """It used to print only `Interrupted.`: rerunning made a second job."""
    sent: list[httpx.Request] = []
    api.router.post(url__regex=r"/fine_tuning/jobs$").mock(side_effect=_ctrl_c_once_sent(sent))
    api.route_response("GET", "/fine_tuning/jobs", _listing_the_created_job)
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL)
    assert result.exit_code == 130
    lookup = api.request("GET", "/fine_tuning/jobs")
    (post,) = sent
    assert (
        lookup.url.params["metadata[ftctl_request]"]
        == request_json(post)["metadata"]["ftctl_request"]
    )
    assert f"the job was created: {JOB}" in result.stderr
    assert f"ftctl follow -i {JOB}" in result.stderr


def test_ctrl_c_during_the_job_post_says_when_no_job_exists(run_cli: RunCli, api: Api) -> None:
    api.route_sequence("POST", "/fine_tuning/jobs", [KeyboardInterrupt], repeat_last=False)
    api.route_response("GET", "/fine_tuning/jobs", json_response(200, EMPTY_LIST))
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL)
    assert result.exit_code == 130
    assert "no job exists" in result.stderr


def test_ctrl_c_during_the_job_post_without_a_lookup_says_it_may_exist(
    run_cli: RunCli, api: Api
) -> None:
    sent: list[httpx.Request] = []
    api.router.post(url__regex=r"/fine_tuning/jobs$").mock(side_effect=_ctrl_c_once_sent(sent))
    api.route_sequence("GET", "/fine_tuning/jobs", [httpx.ConnectError])
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL)
    assert result.exit_code == 130
    assert "it may exist" in result.stderr
    token = request_json(sent[0])["metadata"]["ftctl_request"]
    assert f"ftctl_request={token}" in result.stderr


# -- one confirmation rule -----------------------------------------------------------------------


def test_create_in_a_pipe_without_yes_refuses_before_any_request(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    """`create` in a pipe used to spend without --yes while `delete` refused."""
    result = run_cli("create", "-t", str(train_file), "-m", MODEL, "--no-follow")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    api.assert_no_requests()


def test_a_file_id_at_a_terminal_is_confirmed_too(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `file-...` id at a terminal used to skip the confirmation."""
    from ftctl.cli import _output

    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    result = run_cli("create", "-t", TRAIN_ID, "-m", MODEL, "--no-follow", input="n\n")
    assert f"Start training {MODEL} on {TRAIN_ID}?" in result.stderr
    assert result.exit_code == 0
    # The model (and the key) are checked before asking; nothing else is sent.
    assert api.summary() == [f"GET /v1/models/{MODEL}"]


# -- uploads: reuse and no blind retries -----------------------------------------------------------


def test_a_file_uploaded_before_is_reused_not_uploaded_again(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    uploaded = fixture_json("files/uploaded")
    listing = {"object": "list", "data": [], "has_more": False}
    api.route_response("GET", "/files", json_response(200, listing))
    uploaded["bytes"] = train_file.stat().st_size
    api.route_response("POST", "/files", json_response(200, uploaded))
    api.route_response("GET", f"/files/{uploaded['id']}", json_response(200, uploaded))
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    args = ["create", "--yes", "-t", str(train_file), "-m", MODEL, "--no-follow"]
    assert run_cli(*args).exit_code == 0
    again = run_cli(*args)
    assert again.exit_code == 0, again.output
    assert f"Using {uploaded['id']}, uploaded before with the same content" in again.stderr
    assert len(api.requests("POST", "/files")) == 1
    jobs = [request_json(r) for r in api.requests("POST", "/fine_tuning/jobs")]
    assert [j["training_file"] for j in jobs] == [uploaded["id"]] * 2
    assert run_cli(*args, "--no-reuse").exit_code == 0
    assert len(api.requests("POST", "/files")) == 2


def test_same_name_and_size_is_used_only_when_asked(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    """The legacy CLI asked before uploading a file of the same name and size again."""
    there = {**fixture_json("files/uploaded"), "filename": "train.jsonl"}
    there["bytes"] = train_file.stat().st_size
    api.route_response("GET", "/files", json_response(200, {"object": "list", "data": [there]}))
    api.route_fixture("POST", "/files", "files/uploaded_validation")
    uploaded_id = fixture_json("files/uploaded_validation")["id"]
    # The copy this run uploads is deleted before the next: the record forgets it.
    gone = {
        "error": {"message": f"No such File object: {uploaded_id}", "type": "invalid_request_error"}
    }
    api.route_response("GET", f"/files/{uploaded_id}", json_response(404, gone))
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    args = ["create", "--yes", "-t", str(train_file), "-m", MODEL, "--no-follow"]
    result = run_cli(*args)
    assert result.exit_code == 0
    assert "may differ: uploading (--reuse would use it)" in result.stderr
    assert len(api.requests("POST", "/files")) == 1
    assert run_cli(*args, "--reuse").exit_code == 0
    assert len(api.requests("POST", "/files")) == 1  # not uploaded again
    assert (
        request_json(api.requests("POST", "/fine_tuning/jobs")[1])["training_file"] == there["id"]
    )


def test_a_lost_upload_answer_is_looked_up_not_uploaded_again(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    """The SDK retried POST /files blindly: one create stored 3 copies."""
    stored = _stored_on_the_third_listing(api, train_file)
    api.route_sequence("POST", "/files", [httpx.ReadTimeout], repeat_last=False)
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli("create", "--yes", "-t", str(train_file), "-m", MODEL, "--no-follow")
    assert result.exit_code == 0, result.output
    assert len(api.requests("POST", "/files")) == 1
    assert f"found {stored['id']}: the upload did store the file" in result.stderr
    assert request_json(api.request("POST", "/fine_tuning/jobs"))["training_file"] == stored["id"]


# -- waits: bounded and announced ------------------------------------------------------------


def test_sdk_retry_waits_are_announced(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`create` used to wait 45 s on a 429 in silence."""
    import time

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    limited = httpx.Response(
        429, headers={"retry-after": "999999"}, json=fixture_json("errors/rate_limit")
    )
    late = httpx.Response(
        429, headers={"retry-after": "20"}, json=fixture_json("errors/rate_limit")
    )
    api.route_sequence("GET", JOB_PATH, [late, "jobs/succeeded"])
    result = run_cli("get", JOB)
    assert result.exit_code == 0, result.output
    assert "rate limited (429): retrying in 20 s" in result.stderr
    assert slept == [20.0]
    api.route_sequence("GET", "/fine_tuning/jobs/ftjob-2", [limited])
    result = run_cli("--max-retries", "1", "get", "ftjob-2")
    assert result.exit_code == 1  # asked to wait 11.6 days: not retried, said at once
    assert slept == [20.0]


def test_follow_gives_up_after_an_outage_with_the_resume_command(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`follow` against a dead server used to retry forever."""
    import ftctl.service.jobs

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(ftctl.service.jobs, "wait_seconds", sleep)
    monkeypatch.setattr(ftctl.service.jobs, "now_seconds", lambda: now[0])
    api.route_sequence("GET", f"{JOB_PATH}/events", [httpx.ConnectError])
    result = run_cli("--max-retries", "0", "follow", JOB, "--give-up-after", "120")
    assert result.exit_code == 1
    assert f"gave up on job {JOB} after 120 s" in result.stderr
    assert f"next: resume with: ftctl follow -i {JOB}" in result.stderr
    assert "retrying in" in result.stderr


def test_list_all_stops_when_the_server_ignores_after(run_cli: RunCli, api: Api) -> None:
    page = json_response(200, {**fixture_json("jobs/list_page1"), "has_more": True})
    api.route_response("GET", "/fine_tuning/jobs", page)
    result = run_cli("list", "--all", "--json")
    assert result.exit_code == 0
    assert len(api.requests("GET", "/fine_tuning/jobs")) == 2
    assert json.loads(result.stdout)["data"] == fixture_json("jobs/list_page1")["data"]


def test_ctrl_c_during_the_upload_says_which_file_was_stored(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    stored = _stored_on_the_third_listing(api, train_file)
    api.route_sequence("POST", "/files", [KeyboardInterrupt], repeat_last=False)
    result = run_cli("create", "--yes", "-t", str(train_file), "-m", MODEL)
    assert result.exit_code == 130
    assert f"was uploaded: {stored['id']}; no job was created" in result.stderr
    assert not api.requests("POST", "/fine_tuning/jobs")
