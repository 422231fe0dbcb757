"""Fault injection: failures before any work (429 with Retry-After, 500, 503) and dropped
connections after the work, drawn from the seed, on the routes asked for."""

from __future__ import annotations

import httpx
import pytest

from ftctl.mock.http import Faults
from tests.support.mock_server import running_mock

AUTH = {"Authorization": "Bearer sk-mock-test"}


def statuses(faults: Faults, count: int = 40) -> list[int]:
    with running_mock(faults=faults) as url, httpx.Client(headers=AUTH) as http:
        out = []
        for _ in range(count):
            r = http.get(url + "/models")
            if r.status_code != 200:
                error = r.json()["error"]
                assert set(error) == {"message", "type", "param", "code"}
                if r.status_code == 429:
                    assert int(r.headers["retry-after"]) >= 1
            assert r.headers["x-request-id"].startswith("req_")
            out.append(r.status_code)
        return out


def test_failures_are_drawn_from_the_seed() -> None:
    first = statuses(Faults(fail_rate=0.5, seed=3))
    assert first == statuses(Faults(fail_rate=0.5, seed=3))
    assert first != statuses(Faults(fail_rate=0.5, seed=4))
    assert {200, 429, 500, 503} <= set(first)
    assert 8 <= first.count(200) <= 32


def test_faults_apply_only_to_the_routes_given() -> None:
    faults = Faults(fail_rate=1.0, routes=("POST /v1/files", "/v1/fine_tuning/*"))
    with running_mock(faults=faults) as url, httpx.Client(headers=AUTH) as http:
        assert http.get(url + "/models").status_code == 200
        assert http.get(url + "/files").status_code == 200
        assert http.get(url + "/fine_tuning/jobs").status_code in (429, 500, 503)
        upload = http.post(
            url + "/files", files={"file": ("a.jsonl", b"{}\n")}, data={"purpose": "fine-tune"}
        )
        assert upload.status_code in (429, 500, 503)
        assert http.get(url + "/files").json()["data"] == []  # refused before any work


def test_a_dropped_answer_still_did_the_work() -> None:
    faults = Faults(drop_rate=1.0, routes=("POST /v1/files",))
    with running_mock(faults=faults) as url, httpx.Client(headers=AUTH) as http:
        with pytest.raises(httpx.TransportError):
            http.post(
                url + "/files",
                files={"file": ("a.jsonl", b"{}\n")},
                data={"purpose": "fine-tune"},
            )
        files = http.get(url + "/files").json()["data"]
        assert [f["filename"] for f in files] == ["a.jsonl"]
