"""The mock's Azure OpenAI shape, driven by the SDK's own `AzureOpenAI` client: `/openai/...`
paths, the `api-version` query, the `api-key` header, deployments for inference, and Azure's
error bodies for a missing or unsupported version and a missing key."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support.mock_server import FakeClock, running_mock

BOOK_ROWS = [
    {"prompt": f"Title {i} ->", "completion": f" A story about thing number {i}.\n"}
    for i in range(12)
]
CHAT_ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"Question {i}?"},
            {"role": "assistant", "content": f"Answer {i}."},
        ]
    }
    for i in range(10)
]
VERSION = "2025-04-01-preview"


def _jsonl(rows: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture
def azure() -> Iterator[tuple[openai.AzureOpenAI, str, FakeClock, list[httpx.Request]]]:
    clock = FakeClock()
    sent: list[httpx.Request] = []
    with running_mock(speed=1.0, clock=clock) as url:
        endpoint = url.removesuffix("/v1")
        client = openai.AzureOpenAI(
            azure_endpoint=endpoint,
            api_key="azure-key-123",
            api_version=VERSION,
            max_retries=0,
            http_client=httpx.Client(event_hooks={"request": [sent.append]}),
        )
        yield client, endpoint, clock, sent


def test_the_walkthrough_and_a_chat_job_through_azure_openai(
    azure: tuple[openai.AzureOpenAI, str, FakeClock, list[httpx.Request]],
) -> None:
    client, _, clock, sent = azure
    book = client.files.create(
        file=("book.jsonl", io.BytesIO(_jsonl(BOOK_ROWS))), purpose="fine-tune"
    )
    chat = client.files.create(
        file=("chat.jsonl", io.BytesIO(_jsonl(CHAT_ROWS))), purpose="fine-tune"
    )
    job = client.fine_tuning.jobs.create(training_file=book.id, model="davinci-002")
    chat_job = client.fine_tuning.jobs.create(
        training_file=chat.id,
        model="gpt-4.1-mini",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    )
    assert client.fine_tuning.jobs.retrieve(job.id).status == "validating_files"
    clock.advance(120)
    done = client.fine_tuning.jobs.retrieve(job.id)
    chat_done = client.fine_tuning.jobs.retrieve(chat_job.id)
    assert done.status == chat_done.status == "succeeded"
    assert [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1).data] == [
        "The job has successfully completed"
    ]
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert done.fine_tuned_model and chat_done.fine_tuned_model
    assert {j.id for j in client.fine_tuning.jobs.list()} >= {job.id, chat_job.id}

    # Inference goes to /openai/deployments/{model}/...: the deployment names the model.
    text = client.completions.create(model=done.fine_tuned_model, prompt="Title 3 ->", max_tokens=9)
    assert text.choices[0].text.startswith(" A story about thing number 3.")
    answer = client.chat.completions.create(
        model=chat_done.fine_tuned_model, messages=[{"role": "user", "content": "Question 4?"}]
    )
    assert answer.choices[0].message.content == "Answer 4."
    streamed = client.chat.completions.create(
        model=chat_done.fine_tuned_model,
        messages=[{"role": "user", "content": "Question 5?"}],
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Answer 5."

    client.models.delete(done.fine_tuned_model)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(done.fine_tuned_model)
    # A deleted tune is no longer deployed: Azure's own error, with its code.
    with pytest.raises(openai.NotFoundError) as gone:
        client.completions.create(model=done.fine_tuned_model, prompt="Title 3 ->")
    assert gone.value.code == "DeploymentNotFound"

    # What went over the wire is Azure's shape, never OpenAI's.
    for request in sent:
        assert request.url.path.startswith("/openai/"), request.url
        assert request.url.params["api-version"] == VERSION
        assert request.headers["api-key"] == "azure-key-123"
        assert "authorization" not in request.headers
    paths = {r.url.path for r in sent}
    assert f"/openai/deployments/{chat_done.fine_tuned_model}/chat/completions" in paths
    assert "/openai/fine_tuning/jobs" in paths


def test_azure_errors_for_version_and_key(
    azure: tuple[openai.AzureOpenAI, str, FakeClock, list[httpx.Request]],
) -> None:
    _, endpoint, _, _ = azure
    key = {"api-key": "k"}
    missing = httpx.get(f"{endpoint}/openai/fine_tuning/jobs", headers=key)
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "404", "message": "Resource not found"}}
    old = httpx.get(f"{endpoint}/openai/fine_tuning/jobs?api-version=2019-01-01", headers=key)
    assert old.status_code == 400
    assert old.json() == {"error": {"code": "BadRequest", "message": "API version not supported"}}
    nokey = httpx.get(f"{endpoint}/openai/fine_tuning/jobs?api-version={VERSION}")
    assert nokey.status_code == 401 and nokey.json()["error"]["code"] == "401"
    assert "Access denied" in nokey.json()["error"]["message"]
    odd = httpx.post(
        f"{endpoint}/openai/deployments/gpt-4o/embeddings?api-version={VERSION}", headers=key
    )
    assert odd.status_code == 404
    # The v1 surface takes no dated version, and Entra-style bearer tokens work too.
    v1 = httpx.get(f"{endpoint}/openai/v1/models", headers={"Authorization": "Bearer token"})
    assert v1.status_code == 200 and v1.json()["object"] == "list"
    assert v1.headers["apim-request-id"]
    # Errors from the handlers keep the service's four fields.
    gone = httpx.get(
        f"{endpoint}/openai/fine_tuning/jobs/ftjob-nope?api-version={VERSION}", headers=key
    )
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "fine_tune_not_found"


def test_an_unsupported_version_reaches_the_sdk_as_a_bad_request() -> None:
    with running_mock() as url:
        client = openai.AzureOpenAI(
            azure_endpoint=url.removesuffix("/v1"),
            api_key="k",
            api_version="2023-03-15-preview",
            max_retries=0,
            http_client=httpx.Client(),
        )
        with pytest.raises(openai.BadRequestError) as caught:
            client.fine_tuning.jobs.list()
        assert caught.value.body == {"code": "BadRequest", "message": "API version not supported"}
