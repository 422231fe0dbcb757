"""The test helpers themselves: strictness (an unmatched request or an exhausted sequence is
caught even when the SDK would hide it), sequences, fixtures served byte for byte, multipart."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx

from tests.support.respx_api import (
    BASE_URL,
    Api,
    fixture_json,
    fixture_response,
    load_fixture,
    request_json,
    request_multipart,
)


@pytest.fixture
def bare_api() -> Iterator[respx.MockRouter]:
    """An Api without the conftest teardown check, so a test can inspect `unexpected`."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


def test_an_unmatched_request_is_recorded(bare_api: respx.MockRouter) -> None:
    api = Api(bare_api)
    with httpx.Client() as client, pytest.raises(AssertionError):
        client.get(f"{BASE_URL}/models")
    assert api.unexpected == [f"GET {BASE_URL}/models (no route)"]
    with pytest.raises(AssertionError, match="expected no HTTP request"):
        api.assert_no_requests()


def test_a_sequence_repeats_its_last_item_or_is_strict(bare_api: respx.MockRouter) -> None:
    api = Api(bare_api)
    api.route_sequence("GET", "/a", ["jobs/queued", "jobs/succeeded"])
    api.route_sequence("GET", "/b", ["jobs/queued"], repeat_last=False)
    with httpx.Client() as client:
        statuses = [client.get(f"{BASE_URL}/a").json()["status"] for _ in range(3)]
        assert statuses == ["queued", "succeeded", "succeeded"]
        assert client.get(f"{BASE_URL}/b").json()["status"] == "queued"
        with pytest.raises(AssertionError, match="exhausted"):
            client.get(f"{BASE_URL}/b")
    assert api.unexpected == [f"GET {BASE_URL}/b (sequence exhausted)"]


def test_a_sequence_raises_transport_errors_and_interrupts(bare_api: respx.MockRouter) -> None:
    api = Api(bare_api)
    api.route_sequence("GET", "/c", [httpx.ConnectError, KeyboardInterrupt, "jobs/running"])
    with httpx.Client() as client:
        with pytest.raises(httpx.ConnectError):
            client.get(f"{BASE_URL}/c")
        with pytest.raises(KeyboardInterrupt):
            client.get(f"{BASE_URL}/c")
        assert client.get(f"{BASE_URL}/c").json()["status"] == "running"


def test_route_fixture_serves_status_headers_and_body(bare_api: respx.MockRouter) -> None:
    api = Api(bare_api)
    api.route_fixture("GET", "/fine_tuning/jobs/123", "errors/job_not_found")
    with httpx.Client() as client:
        response = client.get(f"{BASE_URL}/fine_tuning/jobs/123")
    fixture = load_fixture("errors/job_not_found")
    assert response.status_code == 404
    assert response.headers["x-request-id"] == fixture["headers"]["x-request-id"]
    assert response.json() == fixture["json"]
    assert api.summary() == ["GET /v1/fine_tuning/jobs/123"]


def test_route_fixture_refuses_an_unknown_fixture_at_once(bare_api: respx.MockRouter) -> None:
    with pytest.raises(FileNotFoundError, match="jobs/nope"):
        Api(bare_api).route_fixture("GET", "/x", "jobs/nope")


def test_params_routes_match_their_query(bare_api: respx.MockRouter) -> None:
    api = Api(bare_api)
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page2", params={"after": "x"})
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page1")
    with httpx.Client() as client:
        first = client.get(f"{BASE_URL}/fine_tuning/jobs", params={"limit": 2})
        second = client.get(f"{BASE_URL}/fine_tuning/jobs", params={"limit": 2, "after": "x"})
    assert first.json() == fixture_json("jobs/list_page1")
    assert second.json() == fixture_json("jobs/list_page2")


def test_sse_fixture_is_served_as_text(bare_api: respx.MockRouter) -> None:
    api = Api(bare_api)
    api.route_fixture("POST", "/chat/completions", "chat/stream")
    with httpx.Client() as client:
        response = client.post(f"{BASE_URL}/chat/completions", json={"stream": True})
    assert response.headers["content-type"] == "text/event-stream"
    assert response.text == load_fixture("chat/stream")["text"]


def test_request_readers() -> None:
    request = httpx.Request(
        "POST",
        f"{BASE_URL}/files",
        data={"purpose": "fine-tune"},
        files={"file": ("train.jsonl", b'{"a": 1}\n')},
    )
    request.read()
    assert request_multipart(request) == {
        "purpose": (None, b"fine-tune"),
        "file": ("train.jsonl", b'{"a": 1}\n'),
    }
    body = httpx.Request("POST", BASE_URL, json={"model": "m"})
    assert request_json(body) == {"model": "m"}


def test_fixture_response_overrides() -> None:
    response = fixture_response("errors/rate_limit", headers={"retry-after": "0.001"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "0.001"
    assert response.headers["x-request-id"].startswith("req_")
    replaced = fixture_response("jobs/queued", status=201, json_body={"x": 1})
    assert replaced.status_code == 201
    assert json.loads(replaced.content) == {"x": 1}
