"""Training files: local paths are uploaded with purpose `fine-tune`; `file-...` ids pass."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ftctl.errors import FtctlError
from ftctl.service._raw import json_object, merge_pages

if TYPE_CHECKING:
    import openai

ProgressCallback = Callable[[int], None]  # called with the bytes read since the last call


def is_file_id(ref: str) -> bool:
    """`file-...` that is not also a local path (a local file wins: it is what the user sees)."""
    return ref.startswith("file-") and not os.path.exists(ref)


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


class FilesService:
    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    def upload(
        self, path: Path, *, purpose: str = "fine-tune", on_progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        with path.open("rb") as handle:
            body: IO[bytes] = handle
            if on_progress is not None:
                body = _ProgressReader(handle, on_progress)  # type: ignore[assignment]
            raw = self._client.files.with_raw_response.create(
                file=(path.name, body),
                purpose=purpose,  # type: ignore[arg-type]
            )
        return json_object(raw)

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
