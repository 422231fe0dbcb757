"""Hostile requests: each is a 400 naming `param` (never a 500), and nothing invalid is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mock_server import running_mock

ROOT = Path(__file__).resolve().parent.parent
BOOK = (ROOT / "fixtures" / "book" / "train_data_prepared.jsonl").read_bytes()
AUTH = {"Authorization": "Bearer sk-mock-test"}


@pytest.fixture(scope="module")
def mock() -> Iterator[tuple[str, str]]:
    """(base URL, id of an uploaded fine-tune file)."""
    with running_mock(speed=5000) as url:
        r = httpx.post(
            url + "/files",
            headers=AUTH,
            files={"file": ("book.jsonl", BOOK)},
            data={"purpose": "fine-tune"},
        )
        yield url, r.json()["id"]


def post(url: str, path: str, raw: str) -> httpx.Response:
    headers = {**AUTH, "content-type": "application/json"}
    return httpx.post(url + path, content=raw.encode(), headers=headers, timeout=30)


def job_count(url: str) -> int:
    r = httpx.get(url + "/fine_tuning/jobs?limit=100", headers=AUTH)
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


@pytest.mark.parametrize(
    ("hyperparameters", "param"),
    [
        (
            '"method": {"type": "supervised", "supervised": {"hyperparameters": '
            '{"learning_rate_multiplier": NaN}}}',
            "method.supervised.hyperparameters.learning_rate_multiplier",
        ),
        (
            '"hyperparameters": {"learning_rate_multiplier": Infinity}',
            "hyperparameters.learning_rate_multiplier",
        ),
        ('"hyperparameters": {"n_epochs": -Infinity}', "hyperparameters.n_epochs"),
        ('"hyperparameters": {"learning_rate_multiplier": 1e999}', None),
    ],
)
def test_non_finite_numbers_are_400_and_never_stored(
    mock: tuple[str, str], hyperparameters: str, param: str | None
) -> None:
    url, file_id = mock
    before = job_count(url)
    raw = f'{{"model": "davinci-002", "training_file": "{file_id}", {hyperparameters}}}'
    r = post(url, "/fine_tuning/jobs", raw)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == (param or "hyperparameters.learning_rate_multiplier")
    assert "finite" in error["message"]
    assert job_count(url) == before  # and listing still works: nothing invalid was kept


def test_a_5000_digit_integer_is_a_short_400(mock: tuple[str, str]) -> None:
    url, file_id = mock
    digits = "9" * 5000
    raw = f'{{"model": "davinci-002", "training_file": "{file_id}", "seed": {digits}}}'
    r = post(url, "/fine_tuning/jobs", raw)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == "seed" and error["code"] == "integer_above_max_value"
    assert "5000 digits" in error["message"] and len(error["message"]) < 300
    r = httpx.get(url + "/fine_tuning/jobs?limit=" + digits, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_400(mock: tuple[str, str], depth: int) -> None:
    url, _ = mock
    nested = "[" * depth + "]" * depth
    raw = f'{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": {nested}}}]}}'
    r = post(url, "/chat/completions", raw)
    assert r.status_code == 400, r.text
    assert "nested too deeply" in r.json()["error"]["message"]


@pytest.mark.parametrize("prompt", [[10**9], [-1], [100265], [[1, 2], [300000]]])
def test_token_ids_outside_the_vocabulary_are_400(mock: tuple[str, str], prompt: Any) -> None:
    url, _ = mock
    r = post(url, "/completions", json.dumps({"model": "davinci-002", "prompt": prompt}))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == "prompt" and "vocabulary" in error["message"]


def test_max_tokens_beyond_the_context_is_400(mock: tuple[str, str]) -> None:
    url, _ = mock
    body = {"model": "davinci-002", "prompt": "x", "max_tokens": 10**6}
    r = post(url, "/completions", json.dumps(body))
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    r = post(url, "/chat/completions", json.dumps({**body, "max_tokens": 10**6}))
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"


def test_a_long_generation_is_linear_in_max_tokens(mock: tuple[str, str]) -> None:
    url, _ = mock
    body = {"model": "davinci-002", "prompt": "Once", "max_tokens": 16_000}
    r = post(url, "/completions", json.dumps(body))
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["completion_tokens"] == 16_000
    assert r.json()["choices"][0]["finish_reason"] == "length"


def test_an_oversized_json_body_is_413_without_reading_it_all(mock: tuple[str, str]) -> None:
    url, _ = mock

    def endless() -> Iterator[bytes]:  # no Content-Length: refused as it arrives
        yield b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"x" * (1024 * 1024)

    headers = {**AUTH, "content-type": "application/json"}
    r = httpx.post(url + "/chat/completions", content=endless(), headers=headers, timeout=30)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "request_too_large"
