"""Uploads for large files: parts joined in the order given, limits, cancel and expiry."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import httpx
import openai
import pytest

from ftctl.mock.store import Limits
from tests.support.mock_server import FakeClock, running_mock


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url,
        api_key="sk-mock-test",
        max_retries=0,
        http_client=httpx.Client(),  # type: ignore[arg-type]
    )


DATA = b'{"prompt": "a ->", "completion": " b"}\n' * 10


def test_parts_complete_into_a_file_in_the_given_order() -> None:
    apps: list[Any] = []
    with running_mock(app_out=apps) as url:
        c = client(url)
        up = c.uploads.create(
            filename="train.jsonl", purpose="fine-tune", bytes=len(DATA), mime_type="text/jsonl"
        )
        assert (up.status, up.file) == ("pending", None)
        assert up.expires_at == up.created_at + 3600
        tail = c.uploads.parts.create(up.id, data=DATA[200:])
        head = c.uploads.parts.create(up.id, data=DATA[:200])
        assert tail.upload_id == up.id and tail.id.startswith("part_")
        with pytest.raises(openai.BadRequestError, match="number of bytes"):
            c.uploads.complete(up.id, part_ids=[head.id])
        with pytest.raises(openai.BadRequestError, match="md5"):
            c.uploads.complete(up.id, part_ids=[head.id, tail.id], md5="0" * 32)
        done = c.uploads.complete(
            up.id, part_ids=[head.id, tail.id], md5=hashlib.md5(DATA).hexdigest()
        )
        assert done.status == "completed" and done.file is not None
        assert done.file.bytes == len(DATA) and done.file.purpose == "fine-tune"
        # The service hands no training upload back: the joined bytes are checked in the store.
        assert apps[0].state.store.file(done.file.id).content == DATA
        # The file trains like any other.
        job = c.fine_tuning.jobs.create(training_file=done.file.id, model="babbage-002")
        assert job.training_file == done.file.id
        with pytest.raises(openai.BadRequestError, match="completed"):
            c.uploads.parts.create(up.id, data=b"more")


def test_create_checks_purpose_size_and_type() -> None:
    with running_mock(limits=Limits(upload_bytes=1000)) as url:
        c = client(url)
        cases = [
            ({"filename": "a.csv", "mime_type": "text/csv"}, "filename"),
            ({"filename": "a.jsonl", "mime_type": "image/png"}, "mime_type"),
            ({"filename": "a.jsonl", "mime_type": "text/jsonl", "bytes": 1001}, "bytes"),
        ]
        for extra, param in cases:
            args = {"purpose": "fine-tune", "bytes": 10, **extra}
            with pytest.raises(openai.BadRequestError) as err:
                c.uploads.create(**args)  # type: ignore[arg-type]
            assert err.value.param == param  # type: ignore[attr-defined]
        with pytest.raises(openai.NotFoundError):
            c.uploads.complete("upload_nope", part_ids=[])


def test_part_limit_cancel_and_expiry() -> None:
    clock = FakeClock()
    with running_mock(clock=clock, limits=Limits(part_bytes=100)) as url:
        c = client(url)
        up = c.uploads.create(
            filename="t.jsonl", purpose="fine-tune", bytes=5, mime_type="text/jsonl"
        )
        with pytest.raises(openai.APIStatusError) as err:
            c.uploads.parts.create(up.id, data=io.BytesIO(b"x" * 101))
        assert err.value.status_code == 413
        assert c.uploads.cancel(up.id).status == "cancelled"
        with pytest.raises(openai.BadRequestError, match="cancelled"):
            c.uploads.complete(up.id, part_ids=[])

        late = c.uploads.create(
            filename="t.jsonl", purpose="fine-tune", bytes=1, mime_type="text/jsonl"
        )
        clock.advance(3601)
        with pytest.raises(openai.BadRequestError, match="expired"):
            c.uploads.parts.create(late.id, data=b"x")
