"""`ftctl create`: the outgoing requests (multipart upload, job body), refusals before any
request, following after creation, and the safe-retry rules for a POST that creates a job."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support import openapi_check
from tests.support.cli import RunCli
from tests.support.respx_api import (
    Api,
    fixture_json,
    json_response,
    request_json,
    request_multipart,
)

MODEL = "gpt-4o-mini-2024-07-18"
TRAIN_ID = "file-Cbl1lel9YuFDEEYeJu0Kxyvq"
VALID_ID = "file-Vq2t8dJ3kLmN0pQrStUvWxYz"
JOB = "ftjob-abc123"
JOB_PATH = f"/fine_tuning/jobs/{JOB}"


def _chat_lines(n: int) -> str:
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Marv is a sarcastic chatbot."},
                    {"role": "user", "content": f"What is {i} plus {i}?"},
                    {"role": "assistant", "content": f"{2 * i}, obviously."},
                ]
            }
        )
        + "\n"
        for i in range(n)
    )


@pytest.fixture(autouse=True)
def known_models(api: Api) -> None:
    """`create` asks the service for the model (and so checks the key) before uploading."""
    api.route_model_lookups()


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(_chat_lines(10), encoding="utf-8")
    return path


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    path = tmp_path / "valid.jsonl"
    path.write_text(_chat_lines(11), encoding="utf-8")
    return path


EMPTY_LIST = {"object": "list", "data": [], "has_more": False, "first_id": "", "last_id": ""}


@pytest.fixture(autouse=True)
def no_files_yet(api: Api) -> None:
    """The service holds no file like the one being uploaded (ftctl asks before uploading)."""
    api.route_response("GET", "/files", json_response(200, EMPTY_LIST))


def _job_body(api: Api) -> dict[str, object]:
    """The job body sent, less the client token every create carries (checked here)."""
    body = request_json(api.request("POST", "/fine_tuning/jobs"))
    openapi_check.validate_request("createFineTuningJob", body)
    assert isinstance(body, dict)
    metadata = body.pop("metadata")
    assert metadata.pop("ftctl_request").startswith("ftreq-")
    if metadata:
        body["metadata"] = metadata
    return body


# -- the job request -----------------------------------------------------------------------


def test_create_with_file_ids_no_follow(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL, "--no-follow")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{JOB}\n"  # only the id: `JOB=$(ftctl create ... --no-follow)`
    assert f"Created fine-tuning job: {JOB}" in result.stderr
    body = _job_body(api)
    assert body["model"] == MODEL
    assert body["training_file"] == TRAIN_ID
    assert "hyperparameters" not in body  # deprecated top-level field
    assert body["method"] == {"type": "supervised", "supervised": {}}
    # the model looked up first; nothing uploaded, nothing followed
    assert api.summary() == [f"GET /v1/models/{MODEL}", "POST /v1/fine_tuning/jobs"]


def test_create_no_follow_json_prints_the_job(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created_real")
    result = run_cli(
        "create", "--yes", "-t", TRAIN_ID, "-m", "gpt-4o-2024-08-06", "--no-follow", "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("jobs/created_real")


def test_create_sends_every_flag_in_the_right_place(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli(
        "create",
        "--yes",
        "-t",
        TRAIN_ID,
        "-v",
        VALID_ID,
        "-m",
        MODEL,
        "--suffix",
        "sarcasm",
        "--n-epochs",
        "3",
        "--batch-size",
        "8",
        "--learning-rate-multiplier",
        "0.5",
        "--seed",
        "42",
        "--metadata",
        "team=nlp",
        "--metadata",
        "run=a=b",
        "--no-follow",
    )
    assert result.exit_code == 0, result.output
    assert _job_body(api) == {
        "model": MODEL,
        "training_file": TRAIN_ID,
        "validation_file": VALID_ID,
        "suffix": "sarcasm",
        "seed": 42,
        "metadata": {"team": "nlp", "run": "a=b"},
        "method": {
            "type": "supervised",
            "supervised": {
                "hyperparameters": {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 0.5}
            },
        },
    }


def test_create_sends_only_the_hyperparameters_given(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli(
        "create", "--yes", "-t", TRAIN_ID, "-m", MODEL, "--n-epochs", "2", "--no-follow"
    )
    assert result.exit_code == 0, result.output
    method = _job_body(api)["method"]
    assert method == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}


@pytest.mark.parametrize(
    "flags",
    [
        ["--metadata", "novalue"],
        ["--metadata", "=value"],
        ["--n-epochs", "0"],
        ["--n-epochs", "51"],
        ["--batch-size", "0"],
        ["--learning-rate-multiplier", "-1"],
    ],
)
def test_create_refuses_bad_flags_before_any_request(
    run_cli: RunCli, api: Api, flags: list[str]
) -> None:
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL, "--no-follow", *flags)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    api.assert_no_requests()


@pytest.mark.parametrize(
    ("model", "replacement"),
    [
        ("davinci", "davinci-002"),
        ("curie", "davinci-002"),
        ("babbage", "babbage-002"),
        ("ada", "babbage-002"),
    ],
)
def test_create_refuses_retired_models_before_any_request(
    run_cli: RunCli, api: Api, train_file: Path, model: str, replacement: str
) -> None:
    result = run_cli("create", "-t", str(train_file), "-m", model, "--yes")
    assert result.exit_code == 2
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert model in first and replacement in first
    api.assert_no_requests()


# -- uploads -----------------------------------------------------------------------------------


def test_create_uploads_a_local_file_with_purpose_fine_tune(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    api.route_fixture("POST", "/files", "files/uploaded")
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli("create", "-t", str(train_file), "-m", MODEL, "--no-follow", "--yes")
    assert result.exit_code == 0, result.output
    upload = request_multipart(api.request("POST", "/files"))
    assert upload["purpose"] == (None, b"fine-tune")
    assert upload["file"] == ("train.jsonl", train_file.read_bytes())
    uploaded_id = fixture_json("files/uploaded")["id"]
    assert _job_body(api)["training_file"] == uploaded_id
    assert f"Uploaded file from {train_file}: {uploaded_id}" in result.stderr
    assert result.stdout == f"{JOB}\n"
    assert [line.split("?")[0] for line in api.summary()] == [
        f"GET /v1/models/{MODEL}",  # the model (and the key) checked first
        "GET /v1/files",  # a file of the same name and size already there?
        "GET /v1/files",  # the same list, as it was before the upload
        "POST /v1/files",
        "POST /v1/fine_tuning/jobs",  # the upload comes before the job
    ]


def test_create_uploads_training_and_validation_files(
    run_cli: RunCli, api: Api, train_file: Path, valid_file: Path
) -> None:
    api.route_sequence("POST", "/files", ["files/uploaded", "files/uploaded_validation"])
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli(
        "create", "-t", str(train_file), "-v", str(valid_file), "-m", MODEL, "--no-follow", "--yes"
    )
    assert result.exit_code == 0, result.output
    first, second = (request_multipart(r) for r in api.requests("POST", "/files"))
    assert first["file"][0] == "train.jsonl" and second["file"][0] == "valid.jsonl"
    assert second["purpose"] == (None, b"fine-tune")
    body = _job_body(api)
    assert body["training_file"] == fixture_json("files/uploaded")["id"]
    assert body["validation_file"] == fixture_json("files/uploaded_validation")["id"]


def test_create_accepts_a_real_upload_answer(run_cli: RunCli, api: Api, train_file: Path) -> None:
    """The real service answers with `"status_details": null`, which the description forbids."""
    api.route_fixture("POST", "/files", "files/uploaded_real")
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli("create", "-t", str(train_file), "-m", MODEL, "--no-follow", "--yes")
    assert result.exit_code == 0, result.output
    assert _job_body(api)["training_file"] == fixture_json("files/uploaded_real")["id"]


def test_create_prints_the_data_summary_on_stderr(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    api.route_fixture("POST", "/files", "files/uploaded")
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli("create", "-t", str(train_file), "-m", MODEL, "--no-follow", "--yes")
    assert result.exit_code == 0, result.output
    assert "10 chat examples" in result.stderr
    assert "estimated cost" in result.stderr
    assert "examples" not in result.stdout


def test_create_asks_on_a_terminal_and_stops_on_no(
    run_cli: RunCli, api: Api, train_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftctl.cli import _output

    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    result = run_cli("create", "-t", str(train_file), "-m", MODEL, "--no-follow", input="n\n")
    assert "Upload and start training?" in result.stderr
    # CliRunner echoes typed input to stdout (a terminal would echo it on the tty)
    assert result.stdout.strip() == "n"
    assert result.exit_code == 0  # declining is not an error
    assert api.summary() == [f"GET /v1/models/{MODEL}"]  # the model was checked; nothing uploaded


def test_create_asks_on_a_terminal_and_goes_on_yes(
    run_cli: RunCli, api: Api, train_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftctl.cli import _output

    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    api.route_fixture("POST", "/files", "files/uploaded")
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    result = run_cli("create", "-t", str(train_file), "-m", MODEL, "--no-follow", input="y\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["y", JOB]  # the echoed answer, then the data
    assert len(api.requests("POST", "/files")) == 1


# -- refusing bad data before uploading ------------------------------------------------------


def test_create_refuses_a_file_that_is_not_jsonl_of_objects(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_chat_lines(12) + "[1, 2, 3]\nnot json at all\n", encoding="utf-8")
    result = run_cli("create", "-t", str(bad), "-m", MODEL, "--yes")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{bad}:13" in result.stderr  # the file and the line, 1-based
    assert f"{bad}:14" in result.stderr
    assert "nothing was uploaded" in result.stderr
    api.assert_no_requests()


def test_create_counts_every_problem_not_the_lines_it_shows(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_chat_lines(12) + "not json\n" * 8, encoding="utf-8")
    result = run_cli("create", "-t", str(bad), "-m", MODEL, "--yes")
    assert result.exit_code == 2
    assert f"{bad}: 3 more line(s) with invalid_json" in result.stderr  # 5 shown, 3 counted
    assert "8 problem(s) the service would reject; nothing was uploaded" in result.stderr
    api.assert_no_requests()


def test_create_refuses_a_bad_validation_file_before_uploading_training(
    run_cli: RunCli, api: Api, train_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "valid.jsonl"
    bad.write_text('"just a string"\n', encoding="utf-8")
    result = run_cli("create", "-t", str(train_file), "-v", str(bad), "-m", MODEL, "--yes")
    assert result.exit_code == 2
    assert str(bad) in result.stderr
    api.assert_no_requests()


def test_create_refuses_chat_data_for_a_completion_model(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    result = run_cli("create", "-t", str(train_file), "-m", "davinci-002", "--yes")
    assert result.exit_code == 2
    assert "davinci-002" in result.stderr
    api.assert_no_requests()


def test_create_missing_local_file(run_cli: RunCli, api: Api, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = run_cli("create", "-t", str(missing), "-m", MODEL, "--yes")
    assert result.exit_code == 2
    assert str(missing) in result.stderr
    api.assert_no_requests()


# -- API errors on create ------------------------------------------------------------------------


def test_create_rejected_by_the_service(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/fine_tuning/jobs", "errors/invalid_file")
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL)
    assert result.exit_code == 1
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: File 'file-Cbl1lel9YuFDEEYeJu0Kxyvq' is not a valid")
    assert first.endswith(
        "(HTTP 400, param training_file, request req_400invalidfile0000000000000001)"
    )
    assert len(api.requests("POST", "/fine_tuning/jobs")) == 1  # a 400 is not retried
    assert api.summary()[-1] == "POST /v1/fine_tuning/jobs"  # nothing to follow


def _found_by_token(request: httpx.Request) -> httpx.Response:
    """GET /fine_tuning/jobs?metadata[ftctl_request]=T: the job that POST created, if any."""
    token = request.url.params["metadata[ftctl_request]"]
    job = fixture_json("jobs/created")
    job["metadata"] = {"ftctl_request": token}
    return json_response(200, {"object": "list", "data": [job], "has_more": False})


def test_a_5xx_on_create_is_settled_by_the_token_not_by_a_second_post(
    run_cli: RunCli, api: Api
) -> None:
    """A 500 on create may have created the job: ftctl looks it up by the token it sent and
    adopts it, so one command is one job."""
    api.route_fixture("POST", "/fine_tuning/jobs", "errors/server_error")
    api.route_response("GET", "/fine_tuning/jobs", _found_by_token)
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL, "--no-follow")
    assert result.exit_code == 0, result.output
    assert len(api.requests("POST", "/fine_tuning/jobs")) == 1
    sent = _job_body_token(api)
    lookup = api.requests("GET", "/fine_tuning/jobs")[0]
    assert lookup.url.params["metadata[ftctl_request]"] == sent
    assert result.stdout == f"{JOB}\n"
    assert "the request did create it" in result.stderr


def _job_body_token(api: Api) -> str:
    token = request_json(api.requests("POST", "/fine_tuning/jobs")[0])["metadata"]["ftctl_request"]
    assert isinstance(token, str)
    return token


def test_a_create_certainly_not_made_is_sent_again_with_the_same_token(
    run_cli: RunCli, api: Api
) -> None:
    api.route_sequence(
        "POST", "/fine_tuning/jobs", [httpx.ReadTimeout("lost"), "jobs/created"], repeat_last=False
    )
    api.route_response("GET", "/fine_tuning/jobs", json_response(200, EMPTY_LIST))
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL, "--no-follow")
    assert result.exit_code == 0, result.output
    first, second = (request_json(r) for r in api.requests("POST", "/fine_tuning/jobs"))
    assert first == second  # the same body, the same token
    assert "no job was created: sending the request again" in result.stderr
    assert result.stdout == f"{JOB}\n"


def test_a_create_that_fails_for_certain_names_the_file_it_leaves(
    run_cli: RunCli, api: Api, train_file: Path
) -> None:
    api.route_fixture("POST", "/files", "files/uploaded")
    api.route_fixture("POST", "/fine_tuning/jobs", "errors/invalid_file")
    result = run_cli("create", "--yes", "-t", str(train_file), "-m", MODEL, "--no-follow")
    assert result.exit_code == 1
    file_id = fixture_json("files/uploaded")["id"]
    assert f"Uploaded file {file_id} is left on the service, unused" in result.stderr
    assert f"delete it with `ftctl files delete {file_id}`" in result.stderr


def test_an_unsettled_create_says_how_to_check(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/fine_tuning/jobs", "errors/server_error")
    api.route_fixture("GET", "/fine_tuning/jobs", "errors/server_error")
    result = run_cli("--max-retries", "0", "create", "--yes", "-t", TRAIN_ID, "-m", MODEL)
    assert result.exit_code == 1
    assert len(api.requests("POST", "/fine_tuning/jobs")) == 1
    token = _job_body_token(api)
    assert "it may exist" in result.stderr
    assert f"ftctl_request={token}" in result.stderr  # how to find it
    assert result.stdout == ""


def test_create_retries_a_429(run_cli: RunCli, api: Api) -> None:
    api.route_sequence(
        "POST",
        "/fine_tuning/jobs",
        [
            httpx.Response(
                429,
                headers={"retry-after": "0.01", "x-request-id": "req_429"},
                json=fixture_json("errors/rate_limit"),
            ),
            "jobs/created",
        ],
    )
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL, "--no-follow")
    assert result.exit_code == 0, result.output
    assert len(api.requests("POST", "/fine_tuning/jobs")) == 2
    assert result.stdout == f"{JOB}\n"


# -- create, then follow ------------------------------------------------------------------------


def _route_run(api: Api) -> None:
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    api.route_sequence(
        "GET", f"{JOB_PATH}/events", ["events/poll_1", "events/poll_2", "events/poll_3"]
    )
    api.route_sequence("GET", JOB_PATH, ["jobs/queued", "jobs/running", "jobs/succeeded"])


def test_create_follows_the_job_until_it_succeeds(run_cli: RunCli, api: Api) -> None:
    _route_run(api)
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    expected = [e["message"] for e in reversed(fixture_json("events/succeeded_all")["data"])]
    assert [line.split("] ", 1)[1] for line in lines[:-1]] == expected
    assert lines[-1] == "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12"
    assert "ftctl complete -m ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12" in result.stderr
    assert not api.requests("POST", f"{JOB_PATH}/cancel")


def test_create_follow_json_is_json_lines(run_cli: RunCli, api: Api) -> None:
    _route_run(api)
    result = run_cli("create", "--yes", "-t", TRAIN_ID, "-m", MODEL, "--json")
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert objects[0] == fixture_json("jobs/created")
    events = list(reversed(fixture_json("events/succeeded_all")["data"]))
    assert objects[1:] == events  # the created job, then one event per line
