"""Uploads through the service against the mock on loopback: at most one file per upload, large
files in parts through the Uploads API (md5 checked, resumed after an interruption), identical
content found again through the local record."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ftctl.errors import Interrupted
from ftctl.service.files import FilesService
from ftctl.service.upload_record import UploadRecord, digests
from tests.support.fault_proxy import fault_proxy
from tests.support.mock_server import running_mock


@pytest.fixture
def mock_app() -> Iterator[tuple[str, Any]]:
    apps: list[Any] = []
    with running_mock(app_out=apps) as url:
        yield url, apps[0]


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-uploads-test", base_url=url, http_client=httpx.Client())


def _data(tmp_path: Path, size: int = 20_000) -> Path:
    path = tmp_path / "big.jsonl"
    line = b'{"messages": [{"role": "user", "content": "hi"}]}\n'
    path.write_bytes((line * (size // len(line) + 1))[:size])
    return path


def test_a_large_file_goes_up_in_parts_with_its_md5(
    mock_app: tuple[str, Any], tmp_path: Path
) -> None:
    url, app = mock_app
    path = _data(tmp_path)
    record = UploadRecord(tmp_path / "state" / "uploads.json")
    service = FilesService(_client(url), record=record, parts_above=1000, part_size=4096)
    progress: list[int] = []
    file = service.upload(path, on_progress=progress.append, digest=digests(path))
    store = app.state.store
    assert store.files[file["id"]].content == path.read_bytes()
    assert sum(progress) == path.stat().st_size
    (upload,) = store.uploads.values()
    assert len(upload.parts) == 5  # 20,000 bytes in parts of 4,096
    assert record.file_for(service._scope, hashlib.sha256(path.read_bytes()).hexdigest())


def test_an_interrupted_upload_resumes_with_the_parts_already_sent(
    mock_app: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, app = mock_app
    path = _data(tmp_path)
    digest = digests(path)
    record = UploadRecord(tmp_path / "state" / "uploads.json")
    service = FilesService(_client(url), record=record, parts_above=1000, part_size=4096)
    send = FilesService._send_part

    def ctrl_c_on_the_last_part(self: FilesService, p: Path, uid: str, index: int, *a: Any) -> str:
        if index == 4:
            raise KeyboardInterrupt
        return send(self, p, uid, index, *a)

    monkeypatch.setattr(FilesService, "_send_part", ctrl_c_on_the_last_part)
    with pytest.raises(Interrupted, match=r"in parts \(4 of 5 sent\)") as info:
        service.upload(path, digest=digest)
    assert info.value.hint is not None and "resume" in info.value.hint
    pending = record.pending(service._scope, digest[0])
    assert pending is not None and set(pending["parts"]) == {"0", "1", "2", "3"}
    monkeypatch.setattr(FilesService, "_send_part", send)

    notes: list[str] = []
    file = service.upload(path, digest=digest, notify=notes.append)
    assert notes == [f"resuming upload {pending['upload_id']}: 4 of 5 parts already sent"]
    store = app.state.store
    assert len(store.uploads) == 1  # the same upload, not a second one
    assert store.files[file["id"]].content == path.read_bytes()
    assert record.pending(service._scope, digest[0]) is None


def test_identical_content_is_found_through_the_record(
    mock_app: tuple[str, Any], tmp_path: Path
) -> None:
    url, app = mock_app
    path = _data(tmp_path, 2000)
    digest = digests(path)
    record = UploadRecord(tmp_path / "state" / "uploads.json")
    service = FilesService(_client(url), record=record)
    file = service.upload(path, digest=digest)
    found = service.find_identical(path, digest[0])
    assert found is not None and found.certain and found.file["id"] == file["id"]
    app.state.store.delete_file(file["id"])  # deleted on the service: forgotten, not trusted
    assert service.find_identical(path, digest[0]) is None


@pytest.mark.parametrize("seed", range(6))
def test_a_dropped_upload_answer_never_leaves_two_files(
    mock_app: tuple[str, Any], tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK retried POST /files blindly: one create stored 3 copies."""
    monkeypatch.setattr("openai._base_client.INITIAL_RETRY_DELAY", 0.001)
    monkeypatch.setattr("openai._base_client.MAX_RETRY_DELAY", 0.01)
    url, app = mock_app
    path = _data(tmp_path, 2000)
    with fault_proxy(url, drop_rate=0.5, seed=seed, routes=["/files"]) as (proxy, _stats):
        client = openai.OpenAI(
            api_key="sk-uploads-test", base_url=proxy, http_client=httpx.Client(), max_retries=5
        )
        service = FilesService(client, sleep=lambda s: None)
        file = service.upload(path)
    copies = [f for f in app.state.store.files.values() if f.filename == path.name]
    assert [f.id for f in copies] == [file["id"]]


def test_a_dropped_completion_answer_never_leaves_two_files(
    mock_app: tuple[str, Any], tmp_path: Path
) -> None:
    url, app = mock_app
    path = _data(tmp_path)
    # Every completion acts on the mock and its answer is lost: the listing must settle it.
    with fault_proxy(url, drop_rate=1.0, routes=["/complete"]) as (proxy, stats):
        client = openai.OpenAI(
            api_key="sk-uploads-test", base_url=proxy, http_client=httpx.Client(), max_retries=5
        )
        service = FilesService(client, sleep=lambda s: None, parts_above=1000, part_size=4096)
        file = service.upload(path, digest=digests(path))
    assert stats["dropped POST"] == 1
    copies = [f for f in app.state.store.files.values() if f.filename == path.name]
    assert [f.id for f in copies] == [file["id"]]
    assert copies[0].content == path.read_bytes()


def test_an_upload_the_service_no_longer_has_is_started_again(
    mock_app: tuple[str, Any], tmp_path: Path
) -> None:
    url, app = mock_app
    path = _data(tmp_path)
    digest = digests(path)
    record = UploadRecord(tmp_path / "state" / "uploads.json")
    service = FilesService(_client(url), record=record, parts_above=1000, part_size=4096)
    entry = {"upload_id": "upload_gone", "bytes": path.stat().st_size, "part_size": 4096}
    entry |= {"expires_at": 4_000_000_000, "parts": {"0": "part_gone"}}
    record.start_pending(service._scope, digest[0], entry)
    notes: list[str] = []
    progress: list[int] = []
    file = service.upload(path, digest=digest, notify=notes.append, on_progress=progress.append)
    assert notes[-1] == "upload upload_gone can no longer be resumed: starting again"
    assert app.state.store.files[file["id"]].content == path.read_bytes()
    assert sum(progress) == path.stat().st_size  # the bar ends at the size, not beyond


@pytest.mark.parametrize("text", ["not json", "[]", '{"files": [], "pending": 3}'])
def test_an_unreadable_record_is_set_aside_not_trusted(tmp_path: Path, text: str) -> None:
    path = tmp_path / "uploads.json"
    path.write_text(text, encoding="utf-8")
    record = UploadRecord(path)
    assert record.file_for("scope", "0" * 64) is None
    record.remember_file("scope", "0" * 64, {"id": "file-1", "bytes": 3})
    assert record.file_for("scope", "0" * 64) == {
        "id": "file-1",
        "filename": None,
        "bytes": 3,
        "created_at": None,
    }
