"""Every error the mock sends: real bodies, real statuses, `param` named, request ids throughout."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ftctl.mock.store import Limits
from tests.support.mock_server import FakeClock, running_mock

ROOT = Path(__file__).resolve().parent.parent
BOOK = (ROOT / "fixtures" / "book" / "train_data_prepared.jsonl").read_bytes()
AUTH = {"Authorization": "Bearer sk-mock-test"}


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url,
        api_key="sk-mock-test",
        max_retries=0,
        timeout=10,
        http_client=httpx.Client(),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, openai.OpenAI, dict[str, str]]]:
    """A mock with a book file, an assistants file and a chat file already uploaded."""
    with running_mock(speed=5000, limits=Limits(file_bytes=4096, part_bytes=100)) as url:
        c = client(url)
        files = {
            "book": c.files.create(file=("b.jsonl", io.BytesIO(BOOK)), purpose="fine-tune").id,
            "notes": c.files.create(file=("n.txt", io.BytesIO(b"x")), purpose="assistants").id,
        }
        yield url, c, files


def test_missing_or_empty_key_is_401_everywhere(server: Any) -> None:
    url = server[0]
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
        for path in ("/models", "/fine_tuning/jobs", "/no/such/route"):
            r = httpx.get(url + path, headers=headers)
            assert r.status_code == 401
            body = r.json()["error"]
            assert body["message"].startswith("You didn't provide an API key.")
            assert (body["type"], body["param"], body["code"]) == (
                "invalid_request_error",
                None,
                None,
            )
            assert r.headers["x-request-id"].startswith("req_")


def test_every_response_has_the_services_headers(server: Any) -> None:
    url, c, _ = server
    seen = set()
    for method, path in (("GET", "/models"), ("GET", "/models/nope"), ("PUT", "/models")):
        r = httpx.request(method, url + path, headers=AUTH)
        assert r.headers["x-request-id"].startswith("req_") and len(r.headers["x-request-id"]) == 36
        assert r.headers["openai-version"] == "2020-10-01"
        assert int(r.headers["openai-processing-ms"]) >= 0
        seen.add(r.headers["x-request-id"])
    assert len(seen) == 3
    stream = c.completions.with_raw_response.create(
        model="davinci-002", prompt="x", stream=True, max_tokens=2
    )
    assert stream.headers["x-request-id"].startswith("req_")
    assert stream.headers["content-type"].startswith("text/event-stream")


def test_unknown_routes_and_methods_are_invalid_url(server: Any) -> None:
    url = server[0]
    for method, path in (
        ("GET", "/nope"),
        ("PUT", "/models"),
        ("POST", "/models/davinci-002"),
        ("DELETE", "/fine_tuning/jobs"),
        ("GET", "/fine_tuning/jobs/ftjob-x/cancel"),
    ):
        r = httpx.request(method, url + path, headers=AUTH)
        assert r.status_code == 404
        assert r.json() == {
            "error": {
                "message": f"Invalid URL ({method} /v1{path})",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }


def test_unknown_job_is_404_with_the_real_body(server: Any) -> None:
    _, c, _ = server
    expected = {
        "message": "Could not find fine tune: 123",
        "type": "invalid_request_error",
        "param": "fine_tune_id",
        "code": "fine_tune_not_found",
    }
    calls = (
        lambda: c.fine_tuning.jobs.retrieve("123"),
        lambda: c.fine_tuning.jobs.cancel("123"),
        lambda: c.fine_tuning.jobs.pause("123"),
        lambda: c.fine_tuning.jobs.resume("123"),
        lambda: c.fine_tuning.jobs.list_events("123"),
        lambda: c.fine_tuning.jobs.checkpoints.list("123"),
    )
    for call in calls:
        with pytest.raises(openai.NotFoundError) as err:
            call()
        assert err.value.body == expected
        assert err.value.request_id is not None and err.value.request_id.startswith("req_")


def test_unknown_model_is_404_and_base_models_cannot_be_deleted(server: Any) -> None:
    _, c, _ = server
    with pytest.raises(openai.NotFoundError) as err:
        c.models.delete("ft:123")
    assert err.value.body == {
        "message": "The model 'ft:123' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    with pytest.raises(openai.PermissionDeniedError) as denied:
        c.models.delete("gpt-4o-mini")
    assert denied.value.status_code == 403 and denied.value.param == "model"  # type: ignore[attr-defined]
    with pytest.raises(openai.NotFoundError) as sampling:
        c.completions.create(model="davinci", prompt="Secrets Unveiled ->")  # retired
    assert sampling.value.code == "model_not_found"  # type: ignore[attr-defined]


CREATE_ERRORS: list[tuple[dict[str, Any], str, str | None]] = [
    ({"model": "davinci-002"}, "training_file", "missing_required_parameter"),
    ({"training_file": "@book"}, "model", "missing_required_parameter"),
    ({"training_file": "@book", "model": "davinci"}, "model", "model_not_available"),
    ({"training_file": "@book", "model": "curie"}, "model", "model_not_available"),
    ({"training_file": "@book", "model": "gpt-4-0613"}, "model", "model_not_available"),
    ({"training_file": "file-nope", "model": "davinci-002"}, "training_file", None),
    ({"training_file": "@notes", "model": "davinci-002"}, "training_file", "invalid_file_purpose"),
    (
        {"training_file": "@book", "validation_file": "file-nope", "model": "davinci-002"},
        "validation_file",
        None,
    ),
    (
        {"training_file": "@book", "model": "davinci-002", "suffix": "x" * 65},
        "suffix",
        "invalid_value",
    ),
    ({"training_file": "@book", "model": "davinci-002", "suffix": ""}, "suffix", "invalid_value"),
    ({"training_file": "@book", "model": "davinci-002", "suffix": 7}, "suffix", "invalid_type"),
    (
        {"training_file": "@book", "model": "davinci-002", "seed": -1},
        "seed",
        "integer_below_min_value",
    ),
    (
        {"training_file": "@book", "model": "davinci-002", "hyperparameters": {"n_epochs": 0}},
        "hyperparameters.n_epochs",
        "integer_below_min_value",
    ),
    (
        {"training_file": "@book", "model": "davinci-002", "hyperparameters": {"n_epochs": 51}},
        "hyperparameters.n_epochs",
        "integer_above_max_value",
    ),
    (
        {"training_file": "@book", "model": "davinci-002", "hyperparameters": {"batch_size": 257}},
        "hyperparameters.batch_size",
        "integer_above_max_value",
    ),
    (
        {
            "training_file": "@book",
            "model": "davinci-002",
            "method": {
                "type": "supervised",
                "supervised": {"hyperparameters": {"learning_rate_multiplier": 0}},
            },
        },
        "method.supervised.hyperparameters.learning_rate_multiplier",
        "invalid_value",
    ),
    (
        {
            "training_file": "@book",
            "model": "gpt-4o-mini",
            "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 3}}},
        },
        "method.dpo.hyperparameters.beta",
        "invalid_value",
    ),
    (
        {"training_file": "@book", "model": "davinci-002", "method": {"type": "dpo"}},
        "method.type",
        None,
    ),
    (
        {"training_file": "@book", "model": "davinci-002", "method": {"type": "magic"}},
        "method.type",
        "invalid_value",
    ),
    (
        {
            "training_file": "@book",
            "model": "davinci-002",
            "metadata": {f"k{i}": "v" for i in range(17)},
        },
        "metadata",
        "object_above_max_properties",
    ),
    (
        {"training_file": "@book", "model": "davinci-002", "metadata": {"k": "v" * 513}},
        "metadata.k",
        "string_above_max_length",
    ),
    (
        {"training_file": "@book", "model": "davinci-002", "colour": "red"},
        "colour",
        "unknown_parameter",
    ),
]


@pytest.mark.parametrize(("body", "param", "code"), CREATE_ERRORS)
def test_create_job_refuses_at_once_naming_the_param(
    server: Any, body: dict[str, Any], param: str, code: str | None
) -> None:
    url, _, files = server
    body = {
        k: files[v[1:]] if isinstance(v, str) and v.startswith("@") else v for k, v in body.items()
    }
    before = httpx.get(url + "/fine_tuning/jobs?limit=100", headers=AUTH).json()["data"]
    r = httpx.post(url + "/fine_tuning/jobs", json=body, headers=AUTH)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert error["message"]
    after = httpx.get(url + "/fine_tuning/jobs?limit=100", headers=AUTH).json()["data"]
    assert len(after) == len(before)  # nothing was created


def test_bad_json_and_bad_query_are_400(server: Any) -> None:
    url = server[0]
    r = httpx.post(url + "/fine_tuning/jobs", content=b"{not json", headers=AUTH)
    assert r.status_code == 400 and "could not parse the JSON body" in r.json()["error"]["message"]
    r = httpx.get(url + "/fine_tuning/jobs?limit=abc", headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = httpx.get(url + "/files?order=sideways", headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["param"] == "order"


def test_completion_parameters_are_checked(server: Any) -> None:
    _, c, _ = server
    with pytest.raises(openai.BadRequestError) as err:
        c.completions.create(model="davinci-002", prompt="x", n=0)
    assert err.value.param == "n"  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError) as err:
        c.completions.create(model="davinci-002", prompt="x", stop=["a", "b", "c", "d", "e"])
    assert err.value.param == "stop"  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert err.value.param == "messages"  # type: ignore[attr-defined]


def test_too_large_is_413(server: Any) -> None:
    _, c, _ = server
    with pytest.raises(openai.APIStatusError) as err:
        c.files.create(file=("big.jsonl", io.BytesIO(b"x" * 5000)), purpose="fine-tune")
    assert err.value.status_code == 413
    assert err.value.body["param"] == "file"  # type: ignore[index]
    assert err.value.body["code"] == "file_too_large"  # type: ignore[index]


def test_too_many_active_jobs_is_429_with_retry_after() -> None:
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock, limits=Limits(active_jobs=2)) as url:
        c = client(url)
        file_id = c.files.create(file=("b.jsonl", io.BytesIO(BOOK)), purpose="fine-tune").id
        for _ in range(2):
            c.fine_tuning.jobs.create(training_file=file_id, model="davinci-002")
        clock.advance(5)
        with pytest.raises(openai.RateLimitError) as err:
            c.fine_tuning.jobs.create(training_file=file_id, model="davinci-002")
        assert err.value.status_code == 429
        assert int(err.value.response.headers["retry-after"]) == 15  # until the first one ends
        assert set(err.value.body) == {"message", "type", "param", "code"}  # type: ignore[arg-type]
        clock.advance(15)  # both finished: room again
        assert c.fine_tuning.jobs.create(training_file=file_id, model="davinci-002").id


def rows(lines: list[object]) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()


PAIR = {"prompt": "a ->", "completion": " b"}
CHAT = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
PREF = {
    "input": {"messages": [{"role": "user", "content": "a"}]},
    "preferred_output": [{"role": "assistant", "content": "good"}],
    "non_preferred_output": [{"role": "assistant", "content": "bad"}],
}
DATA_FAILURES: list[tuple[str, dict[str, Any], bytes, str]] = [
    ("davinci-002", {}, rows([PAIR] * 9), "must have at least 10 examples"),
    ("davinci-002", {}, rows([PAIR] * 4 + ["{oops"] + [PAIR] * 8), "Line 5 is not valid JSON"),
    ("davinci-002", {}, rows([PAIR] * 6 + [CHAT] + [PAIR] * 6), "Line 7: chat format"),
    ("babbage-002", {}, rows([PAIR] * 10 + [{"prompt": "x"}]), "Line 11, completion: must be"),
    ("gpt-4o-mini", {}, rows([CHAT] * 2 + [PAIR] * 10), "Line 3: prompt/completion format"),
    (
        "gpt-4o-mini",
        {},
        rows([CHAT] * 10 + [{"messages": [{"role": "user", "content": "only"}]}]),
        "Line 11, messages: no assistant message",
    ),
    (
        "gpt-4.1-mini",
        {"method": {"type": "dpo"}},
        rows([PREF] * 10 + [{**PREF, "non_preferred_output": None}]),
        "Line 11, non_preferred_output",
    ),
]


@pytest.mark.parametrize(("model", "extra", "data", "message"), DATA_FAILURES)
def test_bad_data_fails_the_job_while_validating(
    model: str, extra: dict[str, Any], data: bytes, message: str
) -> None:
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock) as url:
        c = client(url)
        file_id = c.files.create(file=("d.jsonl", io.BytesIO(data)), purpose="fine-tune").id
        job = c.fine_tuning.jobs.create(training_file=file_id, model=model, **extra)
        assert job.status == "validating_files" and job.error is None
        clock.advance(3)
        failed = c.fine_tuning.jobs.retrieve(job.id)
        assert failed.status == "failed"
        assert failed.error is not None
        assert failed.error.code == "invalid_training_file"
        assert failed.error.param == "training_file"
        assert message in failed.error.message
        assert failed.finished_at is not None and failed.fine_tuned_model is None
        events = c.fine_tuning.jobs.list_events(job.id).data
        assert any(e.level == "error" and message in e.message for e in events)


def test_dpo_and_validation_files_train() -> None:
    with running_mock(speed=5000) as url:
        c = client(url)
        pref = c.files.create(file=("p.jsonl", io.BytesIO(rows([PREF] * 12))), purpose="fine-tune")
        job = c.fine_tuning.jobs.create(
            training_file=pref.id,
            model="gpt-4.1-mini",
            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 2}}},
        )
        while job.status not in ("succeeded", "failed"):
            job = c.fine_tuning.jobs.retrieve(job.id)
        assert job.status == "succeeded", job.error
        assert job.method is not None and job.method.dpo is not None
        assert job.method.dpo.hyperparameters is not None
        assert job.method.dpo.hyperparameters.beta == 0.2
        assert job.hyperparameters.n_epochs == 2

        train = c.files.create(file=("t.jsonl", io.BytesIO(rows([PAIR] * 10))), purpose="fine-tune")
        valid = c.files.create(file=("v.jsonl", io.BytesIO(rows([PAIR] * 10))), purpose="fine-tune")
        job = c.fine_tuning.jobs.create(
            training_file=train.id, validation_file=valid.id, model="davinci-002"
        )
        while job.status not in ("succeeded", "failed"):
            job = c.fine_tuning.jobs.retrieve(job.id)
        assert job.hyperparameters.n_epochs == 10  # 100 // 10 examples
        events = c.fine_tuning.jobs.list_events(job.id, limit=20).data
        metrics = [e for e in events if e.type == "metrics"]
        assert metrics and "valid_loss" in metrics[0].data  # type: ignore[operator]
        assert ", validation loss=" in metrics[0].message
        csv = c.files.content(job.result_files[0]).text.splitlines()
        assert len(csv[1].split(",")) == 5 and csv[1].split(",")[3]
