"""Training files: local paths are uploaded with purpose `fine-tune`; `file-...` ids pass.

At most one upload per file, whatever happens to the answers. The SDK would retry a POST /files
blindly after a lost answer or a 5xx, storing a second copy, so uploads go out with retries off
and ftctl decides: a refusal the server did not act on (429, no connection) is retried; any
other failure is settled by looking for the file (same name and size, not there before the
attempt) before anything is retried. Identical content already uploaded is found through the
local record (by sha256, checked on the service) or, as the legacy CLI did, by name and size.

Files over `parts_above` bytes (and every file over 512 MB, the /v1/files limit) go through the
Uploads API: parts of at most 64 MB sent by a few threads, straight from the file (memory stays
flat), the md5 checked at completion, and the upload and part ids kept in the local record so a
rerun resumes within the upload's hour.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ftctl.client import wait_reason
from ftctl.errors import FtctlError, Interrupted
from ftctl.service._raw import json_object, merge_pages
from ftctl.service._retry import (
    backoff,
    is_transient,
    never_processed,
    retry_after_seconds,
    settle,
)
from ftctl.service.upload_record import UploadRecord

if TYPE_CHECKING:
    import openai

ProgressCallback = Callable[[int], None]  # called with the bytes read since the last call
Notify = Callable[[str], None]

MB = 1 << 20
FILES_LIMIT = 512 * MB  # the largest file POST /v1/files takes
PART_LIMIT = 64 * MB  # the largest part the Uploads API takes
PARTS_ABOVE = 100 * MB  # files larger than this go through the Uploads API
PARALLEL_PARTS = 3
UPLOAD_LIFETIME = 3600  # seconds an Upload stays pending
JSONL_MIME = "application/jsonl"


def wait_seconds(seconds: float) -> None:
    """Sleep; the default `sleep` of the service, looked up at call time so tests can stub it."""
    time.sleep(seconds)


def _ignore(_value: object) -> None:
    pass


def is_file_id(ref: str) -> bool:
    """`file-...` that is not also a local path (a local file wins: it is what the user sees)."""
    return ref.startswith("file-") and not os.path.exists(ref)


def _look_for(path: Path) -> str:
    return f"look for {path.name} in `ftctl files list --purpose fine-tune` before uploading again"


class UploadMayHaveSucceeded(FtctlError):
    """An upload ended without an answer and the file could not be looked up."""


@dataclass(frozen=True)
class Identical:
    """A file already on the service with the same content: `certain` when the local record of
    content hashes says so, else the legacy CLI's guess (same name and size)."""

    file: dict[str, Any]
    certain: bool


class _ProgressReader:
    """Wraps a binary file so that each read the HTTP client makes advances a progress bar."""

    def __init__(self, handle: IO[bytes], on_read: ProgressCallback) -> None:
        self._handle = handle
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        if chunk:
            self._on_read(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class _Window:
    """`length` bytes of a file from `start`, as a seekable stream: one part of a multipart
    upload, read in the HTTP client's chunks rather than loaded whole. No fileno(), so the client
    measures the window, not the file."""

    def __init__(self, path: Path, start: int, length: int, on_read: ProgressCallback) -> None:
        self._handle = path.open("rb")
        self._start = start
        self._length = length
        self._pos = 0
        self._on_read = on_read
        self.sent = 0  # bytes reported to on_read
        self._handle.seek(start)

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._pos
        size = left if size is None or size < 0 else min(size, left)
        chunk = self._handle.read(size) if size > 0 else b""
        self._pos += len(chunk)
        if chunk:
            self.sent += len(chunk)
            self._on_read(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        self._handle.seek(self._start + self._pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._handle.close()


class FilesService:
    def __init__(
        self,
        client: openai.OpenAI,
        *,
        record: UploadRecord | None = None,
        sleep: Callable[[float], None] | None = None,
        parts_above: int = PARTS_ABOVE,
        part_size: int = PART_LIMIT,
    ) -> None:
        self._client = client
        self._record = record
        self._sleep = sleep or wait_seconds
        self._parts_above = min(parts_above, FILES_LIMIT)
        self._part_size = max(1, min(part_size, PART_LIMIT))
        self._scope = f"{client.base_url} {client.organization or '-'} {client.project or '-'}"

    # -- identical files -------------------------------------------------------------------------
    def same_name_and_size(self, name: str, size: int) -> list[dict[str, Any]]:
        """Fine-tune files on the service with this name and size, newest first."""
        raw = self._client.files.with_raw_response.list(purpose="fine-tune", limit=100)
        files = json_object(raw).get("data") or []
        return [
            f
            for f in files
            if isinstance(f, dict) and f.get("filename") == name and f.get("bytes") == size
        ]

    def find_identical(self, path: Path, sha256: str) -> Identical | None:
        """A file on the service with this content, checked there (a recorded file that has
        since been deleted is forgotten)."""
        import openai

        size = path.stat().st_size
        recorded = self._record.file_for(self._scope, sha256) if self._record else None
        if recorded is not None and self._record is not None:
            try:
                file = json_object(self._client.files.with_raw_response.retrieve(recorded["id"]))
            except openai.NotFoundError:
                file = {}
            if file.get("bytes") == size and file.get("status") not in ("error", "deleted"):
                return Identical(file, certain=True)
            self._record.forget_file(self._scope, sha256)
        same = self.same_name_and_size(path.name, size)
        return Identical(same[0], certain=False) if same else None

    def remember(self, sha256: str, file: dict[str, Any]) -> None:
        if self._record is not None:
            self._record.remember_file(self._scope, sha256, file)

    # -- uploading -------------------------------------------------------------------------------
    def upload(
        self,
        path: Path,
        *,
        purpose: str = "fine-tune",
        on_progress: ProgressCallback | None = None,
        notify: Notify = _ignore,
        digest: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """Upload once. `digest` is the file's (sha256, md5), to record it and, for large
        files, to check the assembled file and resume."""
        size = path.stat().st_size
        before = {f.get("id") for f in self.same_name_and_size(path.name, size)}
        if size > self._parts_above:
            if digest is None:
                from ftctl.service.upload_record import digests

                digest = digests(path)
            file = self._upload_in_parts(
                path, size, purpose, digest, before, on_progress or _ignore, notify
            )
        else:
            file = self._upload_whole(path, size, purpose, before, on_progress, notify)
        if digest is not None:
            self.remember(digest[0], file)
        return file

    def _upload_whole(
        self,
        path: Path,
        size: int,
        purpose: str,
        before: set[Any],
        on_progress: ProgressCallback | None,
        notify: Notify,
    ) -> dict[str, Any]:
        once = self._client.with_options(max_retries=0)

        def send() -> dict[str, Any]:
            with path.open("rb") as handle:
                body: IO[bytes] = handle
                if on_progress is not None:
                    body = _ProgressReader(handle, on_progress)  # type: ignore[assignment]
                raw = once.files.with_raw_response.create(
                    file=(path.name, body),
                    purpose=purpose,  # type: ignore[arg-type]
                )
            return json_object(raw)

        return self._store_once(send, path, size, before, notify)

    def _store_once(
        self,
        send: Callable[[], dict[str, Any]],
        path: Path,
        size: int,
        before: set[Any],
        notify: Notify,
    ) -> dict[str, Any]:
        """The file that `send` (an upload, or an Uploads API completion) stores, stored once: a
        failure that leaves it unclear is settled by listing the files before any retry."""
        attempts = self._client.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return send()
            except KeyboardInterrupt:
                raise self._interrupted(path, size, before) from None
            except Exception as exc:
                self._after_failure(exc, attempt, attempts, notify)
                found = self._find_new(path, size, before, exc, notify)
                if found is not None:
                    notify(f"found {found.get('id')}: the upload did store the file")
                    return found
                if attempt == attempts:
                    raise
                if never_processed(exc):  # waited already
                    notify("the file was not stored: uploading it again")
                else:
                    seconds = backoff(attempt)
                    notify(f"the file was not stored: uploading it again in {seconds:.0f} s")
                    self._sleep(seconds)
        raise AssertionError("unreachable")  # pragma: no cover

    def _after_failure(self, exc: Exception, attempt: int, attempts: int, notify: Notify) -> None:
        """Re-raise what a retry cannot fix; wait before the next attempt otherwise. Returns only
        when the failure is ambiguous or retryable, after the wait."""
        if not is_transient(exc) or (attempt == attempts and never_processed(exc)):
            raise exc
        if never_processed(exc):
            asked = retry_after_seconds(exc)
            seconds = backoff(attempt) if asked is None else asked
            if seconds > 1.0:
                notify(
                    f"{wait_reason(getattr(exc, 'response', None))}: retrying in {seconds:.0f} s"
                )
            self._sleep(seconds)

    def _find_new(
        self, path: Path, size: int, before: set[Any], error: Exception, notify: Notify
    ) -> dict[str, Any] | None:
        """After an ambiguous failure: the file the attempt stored, or None if it stored none."""
        if never_processed(error):
            return None

        def stored_since() -> dict[str, Any] | None:
            new = [f for f in self.same_name_and_size(path.name, size) if f.get("id") not in before]
            return new[0] if new else None

        return settle(
            stored_since,
            cause=error,
            give_up=lambda exc: UploadMayHaveSucceeded(
                f"{path}: the upload got no clear answer and the files could not be "
                f"listed ({type(exc).__name__}): a copy may be stored",
                hint=_look_for(path),
            ),
            retrying="listing the files failed too",
            notify=notify,
            sleep=self._sleep,
        )

    def _interrupted(self, path: Path, size: int, before: set[Any]) -> Interrupted:
        try:
            quick = self._client.with_options(max_retries=0, timeout=10)
            raw = quick.files.with_raw_response.list(purpose="fine-tune", limit=100)
            new = [
                f
                for f in json_object(raw).get("data") or []
                if f.get("filename") == path.name
                and f.get("bytes") == size
                and f.get("id") not in before
            ]
        except (Exception, KeyboardInterrupt):
            return Interrupted(
                f"interrupted while uploading {path}: the file may be stored",
                hint=_look_for(path),
            )
        if not new:
            return Interrupted(f"interrupted while uploading {path}: nothing was stored")
        file_id = new[0].get("id")
        return Interrupted(
            f"interrupted, but {path} was uploaded: {file_id}; no job was created",
            hint=f"run the same command with -t {file_id} to use it, or delete it: "
            f"`ftctl files delete {file_id}`",
        )

    # -- the Uploads API -------------------------------------------------------------------------
    def _upload_in_parts(
        self,
        path: Path,
        size: int,
        purpose: str,
        digest: tuple[str, str],
        before: set[Any],
        on_progress: ProgressCallback,
        notify: Notify,
    ) -> dict[str, Any]:
        sha256 = digest[0]
        part_size = self._part_size
        count = max(1, -(-size // part_size))
        pending = self._resumable(sha256, size, part_size)
        resumed = pending is not None
        if pending is None:
            raw = self._client.uploads.with_raw_response.create(
                bytes=size,
                filename=path.name,
                mime_type=JSONL_MIME,
                purpose=purpose,  # type: ignore[arg-type]
            )
            upload = json_object(raw)
            pending = {
                "upload_id": upload["id"],
                "bytes": size,
                "part_size": part_size,
                "expires_at": upload.get("expires_at") or int(time.time()) + UPLOAD_LIFETIME,
                "parts": {},
            }
            if self._record is not None:
                self._record.start_pending(self._scope, sha256, pending)
        else:
            sent = len(pending["parts"])
            notify(f"resuming upload {pending['upload_id']}: {sent} of {count} parts already sent")
        counted = [0]

        def counting(n: int) -> None:
            counted[0] += n
            on_progress(n)

        try:
            return self._send_parts_and_complete(
                path, size, digest, pending, before, counting, notify
            )
        except Exception as exc:
            import openai

            gone = isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 404)
            if not resumed or not gone or self._record is None:
                raise
            # Expired or cancelled on the service: start a new upload, once.
            self._record.drop_pending(self._scope, sha256)
            notify(f"upload {pending['upload_id']} can no longer be resumed: starting again")
            on_progress(-counted[0])
            return self._upload_in_parts(path, size, purpose, digest, before, on_progress, notify)

    def _send_parts_and_complete(
        self,
        path: Path,
        size: int,
        digest: tuple[str, str],
        pending: dict[str, Any],
        before: set[Any],
        on_progress: ProgressCallback,
        notify: Notify,
    ) -> dict[str, Any]:
        sha256, md5 = digest
        part_size = int(pending["part_size"])
        count = max(1, -(-size // part_size))
        upload_id = str(pending["upload_id"])
        parts: dict[int, str] = {int(k): str(v) for k, v in pending["parts"].items()}
        for index in parts:
            on_progress(min(part_size, size - index * part_size))
        todo = [i for i in range(count) if i not in parts]
        lock = threading.Lock()

        def send(index: int) -> None:
            part_id = self._send_part(path, upload_id, index, size, on_progress, notify)
            with lock:
                parts[index] = part_id
            if self._record is not None:  # at once: a Ctrl-C or a crash keeps what was sent
                self._record.add_part(self._scope, sha256, index, part_id)

        pool = ThreadPoolExecutor(max_workers=PARALLEL_PARTS, thread_name_prefix="ftctl-part")
        interrupted = False
        try:
            futures = [pool.submit(send, i) for i in todo]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # the first failure, if any
        except KeyboardInterrupt:
            interrupted = True
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # parts in flight finish, recorded
        if interrupted:
            raise Interrupted(
                f"interrupted while uploading {path} in parts ({len(parts)} of {count} sent): "
                "nothing was stored yet",
                hint="run the same command again within the hour to resume the upload",
            )
        return self._complete(
            path, size, upload_id, [parts[i] for i in range(count)], md5, before, notify
        )

    def _resumable(self, sha256: str, size: int, part_size: int) -> dict[str, Any] | None:
        if self._record is None:
            return None
        pending = self._record.pending(self._scope, sha256)
        margin = 300  # seconds: enough to send what is left
        if (
            pending is None
            or pending.get("bytes") != size
            or pending.get("part_size") != part_size
            or not isinstance(pending.get("parts"), dict)
            or int(pending.get("expires_at") or 0) < time.time() + margin
        ):
            return None
        return pending

    def _send_part(
        self,
        path: Path,
        upload_id: str,
        index: int,
        size: int,
        on_progress: ProgressCallback,
        notify: Notify = _ignore,
    ) -> str:
        """One part, retried on transient failures: a second copy of a part is harmless (only
        the parts named at completion count)."""
        start = index * self._part_size
        length = min(self._part_size, size - start)
        once = self._client.with_options(max_retries=0)
        attempts = self._client.max_retries + 3
        for attempt in range(1, attempts + 1):
            window = _Window(path, start, length, on_progress)
            try:
                raw = once.uploads.parts.with_raw_response.create(
                    upload_id,
                    data=(path.name, window),  # type: ignore[arg-type]
                )
                return str(json_object(raw)["id"])
            except Exception as exc:
                on_progress(-window.sent)  # this part's bytes will be sent again
                if attempt == attempts or not is_transient(exc):
                    raise
                seconds = backoff(attempt)
                notify(f"part {index + 1} failed ({type(exc).__name__}): again in {seconds:.0f} s")
                self._sleep(seconds)
            finally:
                window.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _complete(
        self,
        path: Path,
        size: int,
        upload_id: str,
        part_ids: list[str],
        md5: str,
        before: set[Any],
        notify: Notify,
    ) -> dict[str, Any]:
        once = self._client.with_options(max_retries=0)

        def send() -> dict[str, Any]:
            raw = once.uploads.with_raw_response.complete(upload_id, part_ids=part_ids, md5=md5)
            file = json_object(raw).get("file")
            if not isinstance(file, dict):
                raise FtctlError(f"upload {upload_id} completed without a file")
            return file

        return self._store_once(send, path, size, before, notify)

    # -- reading, downloading, deleting ----------------------------------------------------------
    def list_page(
        self,
        *,
        purpose: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        import openai

        raw = self._client.files.with_raw_response.list(
            purpose=purpose if purpose is not None else openai.omit,
            limit=limit if limit is not None else openai.omit,
            after=after if after is not None else openai.omit,
        )
        return json_object(raw)

    def list_all(self, *, purpose: str | None = None, page_size: int = 1000) -> dict[str, Any]:
        """Every page merged under `data`, newest first (the API's default order)."""
        return merge_pages(
            lambda after: self.list_page(purpose=purpose, limit=page_size, after=after)
        )

    def retrieve(self, file_id: str) -> dict[str, Any]:
        return json_object(self._client.files.with_raw_response.retrieve(file_id))

    def content(self, file_id: str) -> bytes:
        """The file's bytes. The service refuses to hand back `fine-tune` uploads (HTTP 400):
        that refusal becomes a DownloadRefused that says so."""
        import openai

        try:
            raw = self._client.files.with_raw_response.content(file_id)
        except openai.BadRequestError as exc:
            if "not allowed to download" in str(exc.message).lower() or "purpose" in str(
                exc.message
            ):
                raise DownloadRefused(
                    f"the service does not hand back {file_id}: files uploaded with purpose "
                    "fine-tune cannot be downloaded (only results and outputs can)",
                    hint="use your local copy of the training data",
                ) from exc
            raise
        return bytes(raw.content)

    def delete(self, file_id: str) -> dict[str, Any]:
        return json_object(self._client.files.with_raw_response.delete(file_id))


class DownloadRefused(FtctlError):
    """The service keeps some files to itself (uploads for fine-tuning)."""
