"""The service layer on its own: an injected SDK client over respx routes, a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import respx

from ftctl.service.jobs import (
    CreateFailed,
    CreateMayHaveSucceeded,
    EventItem,
    FinishedItem,
    JobRequest,
    JobsService,
    RetryItem,
    ServiceUnreachable,
    StatusItem,
)

BASE = "https://api.test/v1"


def _job(status: str, **extra: Any) -> dict[str, Any]:
    return {"object": "fine_tuning.job", "id": "ftjob-1", "status": status, "error": {}, **extra}


def _event(n: int) -> dict[str, Any]:
    return {
        "object": "fine_tuning.job.event",
        "id": f"ftevent-{n}",
        "created_at": 1_700_000_000 + n,
        "level": "info",
        "message": f"event {n}",
        "type": "message",
    }


def _page(*numbers: int, has_more: bool = False) -> httpx.Response:
    """A newest-first events page."""
    data = [_event(n) for n in sorted(numbers, reverse=True)]
    return httpx.Response(200, json={"object": "list", "data": data, "has_more": has_more})


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def service(sleeps: list[float]) -> JobsService:
    client = openai.OpenAI(api_key="sk-x", base_url=BASE, http_client=httpx.Client(), max_retries=2)
    return JobsService(client, sleep=sleeps.append)


def test_request_body_puts_hyperparameters_in_method() -> None:
    from ftctl.service.jobs import Hyperparameters

    body = JobRequest(
        model="gpt-4o-mini-2024-07-18",
        training_file="file-1",
        hyperparameters=Hyperparameters(n_epochs=3, learning_rate_multiplier=0.5),
        metadata={"team": "books"},
    ).body()
    assert "hyperparameters" not in body
    assert body["method"] == {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": 3, "learning_rate_multiplier": 0.5}},
    }
    assert body["metadata"] == {"team": "books"}


def _listing(*jobs: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"object": "list", "data": list(jobs), "has_more": False})


def test_create_settles_a_server_error_by_its_token(
    api: respx.MockRouter, service: JobsService
) -> None:
    post = api.post("/fine_tuning/jobs").mock(
        return_value=httpx.Response(
            500, json={"error": {"message": "boom", "type": "server_error"}}
        )
    )

    def by_token(request: httpx.Request) -> httpx.Response:
        token = request.url.params["metadata[ftctl_request]"]
        return _listing(_job("queued", metadata={"ftctl_request": token}))

    lookup = api.get("/fine_tuning/jobs").mock(side_effect=by_token)
    job = service.create(JobRequest(model="davinci-002", training_file="file-1"))
    assert post.call_count == 1  # a blind retry could create a second job
    assert lookup.call_count == 1
    sent = json.loads(post.calls[0].request.content)["metadata"]["ftctl_request"]
    assert job["metadata"] == {"ftctl_request": sent}


def test_create_ignores_a_listed_job_without_its_token(
    api: respx.MockRouter, service: JobsService
) -> None:
    """A server that ignores the metadata filter cannot make ftctl adopt someone else's job."""
    post = api.post("/fine_tuning/jobs").mock(side_effect=httpx.ReadTimeout("lost"))
    api.get("/fine_tuning/jobs").mock(return_value=_listing(_job("running")))
    with pytest.raises(CreateFailed, match="no job was created"):
        service.create(JobRequest(model="davinci-002", training_file="file-1"))
    assert post.call_count == 3  # certainly absent each time: safe to send again


def test_create_that_cannot_be_looked_up_may_have_succeeded(
    api: respx.MockRouter, service: JobsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("openai._base_client.INITIAL_RETRY_DELAY", 0.001)  # the lookup's retries
    api.post("/fine_tuning/jobs").mock(side_effect=httpx.ReadTimeout("lost"))
    api.get("/fine_tuning/jobs").mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(CreateMayHaveSucceeded, match="it may exist") as info:
        service.create(JobRequest(model="davinci-002", training_file="file-1"))
    assert info.value.hint is not None and "ftctl_request=ftreq-" in info.value.hint


def test_create_keeps_the_users_metadata_and_adds_its_token(
    api: respx.MockRouter, service: JobsService
) -> None:
    post = api.post("/fine_tuning/jobs").mock(return_value=httpx.Response(200, json=_job("queued")))
    service.create(
        JobRequest(model="davinci-002", training_file="file-1", metadata={"team": "nlp"}),
        token="ftreq-1",
    )
    sent = json.loads(post.calls[0].request.content)["metadata"]
    assert sent == {"team": "nlp", "ftctl_request": "ftreq-1"}


@pytest.mark.parametrize("asked", ["999999", "inf", "1e400"])
def test_create_caps_the_wait_a_server_asks_for(
    api: respx.MockRouter, service: JobsService, sleeps: list[float], asked: str
) -> None:
    """`Retry-After: 999999` used to sleep ~11.6 days; `inf` crashed with OverflowError."""
    limited = httpx.Response(
        429, json={"error": {"message": "slow down"}}, headers={"retry-after": asked}
    )
    api.post("/fine_tuning/jobs").mock(
        side_effect=[limited, httpx.Response(200, json=_job("queued"))]
    )
    notes: list[str] = []
    service.create(JobRequest(model="davinci-002", training_file="file-1"), notify=notes.append)
    assert sleeps == [60.0]
    assert notes == ["rate limited (429): retrying in 60 s"]


def test_create_retries_429_after_retry_after(
    api: respx.MockRouter, service: JobsService, sleeps: list[float]
) -> None:
    limited = httpx.Response(
        429,
        json={"error": {"message": "slow down", "type": "requests"}},
        headers={"retry-after": "7"},
    )
    route = api.post("/fine_tuning/jobs").mock(
        side_effect=[limited, httpx.Response(200, json=_job("validating_files"))]
    )
    job = service.create(JobRequest(model="davinci-002", training_file="file-1"))
    assert job["status"] == "validating_files"
    assert route.call_count == 2
    assert sleeps == [7.0]


def test_create_retries_a_refused_connection(api: respx.MockRouter, service: JobsService) -> None:
    route = api.post("/fine_tuning/jobs").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=_job("queued"))]
    )
    assert service.create(JobRequest(model="davinci-002", training_file="file-1"))["id"]
    assert route.call_count == 2


def test_new_events_pages_back_to_the_last_seen_event(
    api: respx.MockRouter, service: JobsService
) -> None:
    route = api.get("/fine_tuning/jobs/ftjob-1/events").mock(
        side_effect=[_page(5, 4, has_more=True), _page(3, 2, has_more=True)]
    )
    seen = {"ftevent-2", "ftevent-1"}
    fresh = service.new_events("ftjob-1", seen, page_size=2)
    assert [e["id"] for e in fresh] == ["ftevent-3", "ftevent-4", "ftevent-5"]
    assert route.calls[1].request.url.params["after"] == "ftevent-4"
    assert route.calls[0].request.url.params["limit"] == "2"
    assert {"ftevent-3", "ftevent-4", "ftevent-5"} <= seen


def test_follow_prints_each_event_once_and_survives_transient_errors(
    api: respx.MockRouter, sleeps: list[float]
) -> None:
    client = openai.OpenAI(api_key="sk-x", base_url=BASE, http_client=httpx.Client(), max_retries=0)
    service = JobsService(client, sleep=sleeps.append)
    unavailable = httpx.Response(503, json={"error": {"message": "busy", "type": "server_error"}})
    api.get("/fine_tuning/jobs/ftjob-1/events").mock(
        side_effect=[_page(1), _page(2, 1), unavailable, unavailable, _page(3, 2)]
    )
    api.get("/fine_tuning/jobs/ftjob-1").mock(
        side_effect=[
            httpx.Response(200, json=_job("running")),
            unavailable,
            httpx.Response(200, json=_job("succeeded", fine_tuned_model="ft:x")),
        ]
    )
    items = list(service.follow("ftjob-1", poll_interval=2.0))
    events = [i.event["id"] for i in items if isinstance(i, EventItem)]
    assert events == ["ftevent-1", "ftevent-2", "ftevent-3"]
    statuses = [i.job["status"] for i in items if isinstance(i, StatusItem)]
    assert statuses == ["running", "succeeded"]
    retries = [i for i in items if isinstance(i, RetryItem)]
    # The status read fails once; the last events read, after the job ended, twice in a row.
    assert [r.attempt for r in retries] == [1, 1, 2]
    assert isinstance(items[-1], FinishedItem)
    assert items[-1].job["fine_tuned_model"] == "ft:x"
    assert sleeps == [2.0, 2.0, 2.0, 4.0]  # the poll interval, then backoff doubling per read


def test_follow_raises_what_is_not_transient(api: respx.MockRouter, service: JobsService) -> None:
    body = {"error": {"message": "Could not find fine tune: x", "type": "invalid_request_error"}}
    api.get("/fine_tuning/jobs/ftjob-1/events").mock(return_value=httpx.Response(404, json=body))
    with pytest.raises(openai.NotFoundError):
        list(service.follow("ftjob-1"))


def test_list_all_merges_pages(api: respx.MockRouter, service: JobsService) -> None:
    first = {"object": "list", "data": [_job("running", id="ftjob-2")], "has_more": True}
    second = {"object": "list", "data": [_job("failed", id="ftjob-1")], "has_more": False}
    route = api.get("/fine_tuning/jobs").mock(
        side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=second)]
    )
    merged = service.list_all(page_size=1)
    assert [j["id"] for j in merged["data"]] == ["ftjob-2", "ftjob-1"]
    assert merged["has_more"] is False
    assert route.calls[1].request.url.params["after"] == "ftjob-2"
    assert json.loads(json.dumps(merged))["object"] == "list"


def test_list_all_stops_when_the_server_ignores_after(
    api: respx.MockRouter, service: JobsService
) -> None:
    page = {"object": "list", "data": [_job("running", id="ftjob-2")], "has_more": True}
    route = api.get("/fine_tuning/jobs").mock(return_value=httpx.Response(200, json=page))
    notes: list[str] = []
    merged = service.list_all(page_size=1, notify=notes.append)
    assert [j["id"] for j in merged["data"]] == ["ftjob-2"]
    assert route.call_count == 2
    assert notes and "repeated" in notes[0]


def test_new_events_stops_when_the_server_ignores_after(
    api: respx.MockRouter, service: JobsService
) -> None:
    """A server that ignores `after` and always says has_more made follow reach 609 MB."""
    route = api.get("/fine_tuning/jobs/ftjob-1/events").mock(
        return_value=_page(3, 2, 1, has_more=True)
    )
    seen: set[str] = set()
    fresh = service.new_events("ftjob-1", seen, page_size=3)
    assert [e["id"] for e in fresh] == ["ftevent-1", "ftevent-2", "ftevent-3"]
    assert route.call_count == 2
    assert service.new_events("ftjob-1", seen, page_size=3) == []


def test_follow_gives_up_after_an_outage(api: respx.MockRouter, sleeps: list[float]) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    client = openai.OpenAI(api_key="sk-x", base_url=BASE, http_client=httpx.Client(), max_retries=0)
    service = JobsService(client, sleep=sleep, clock=lambda: now[0])
    route = api.get("/fine_tuning/jobs/ftjob-1/events").mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(ServiceUnreachable, match="gave up on job ftjob-1 after 30 s"):
        list(service.follow("ftjob-1", poll_interval=4.0, give_up_after=30.0))
    assert sum(sleeps) == 30.0
    assert route.call_count == len(sleeps) + 1
