"""The local record of uploads: which content (by sha256) became which file, per API, and the
parts of a multipart upload still in progress, so that a rerun reuses an identical file and a
Ctrl-C or a crash resumes an upload within its hour instead of starting again.

One JSON file under the user's state directory ($XDG_STATE_HOME/ftctl, else
~/.local/state/ftctl), written atomically (temporary file, then rename) under a lock, so parts
finishing in parallel never lose each other's ids. A record that cannot be read is set aside, not
trusted: it only ever saves work, the service stays the truth (a recorded file is checked there
before it is reused).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

HASH_CHUNK = 1 << 20


def state_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ftctl"


def _hash_file(path: Path, name: str, on_read: Callable[[int], None] | None) -> str:
    digest = hashlib.new(name, usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            if on_read is not None:
                on_read(len(chunk))
    return digest.hexdigest()


def digests(path: Path, on_read: Callable[[int], None] | None = None) -> tuple[str, str]:
    """(sha256, md5) of a file, read in 1 MB chunks: memory stays flat whatever its size. The two
    run side by side (hashlib releases the GIL; the second read comes from the page cache)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ftctl-hash") as pool:
        sha256 = pool.submit(_hash_file, path, "sha256", on_read)
        md5 = pool.submit(_hash_file, path, "md5", None)
        return sha256.result(), md5.result()


class UploadRecord:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> UploadRecord:
        return cls(state_dir() / "uploads.json")

    # -- storage ---------------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = None
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                self.path.replace(self.path.with_suffix(".unreadable"))
            data = None
        if not isinstance(data, dict):
            data = {}
        for section in ("files", "pending"):
            if not isinstance(data.get(section), dict):
                data[section] = {}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".uploads.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _update(self, change: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            data = self._read()
            change(data)
            self._write(data)

    # -- uploaded files --------------------------------------------------------------------------
    def file_for(self, scope: str, sha256: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._read()["files"].get(f"{scope} {sha256}")
        return entry if isinstance(entry, dict) else None

    def remember_file(self, scope: str, sha256: str, file: dict[str, Any]) -> None:
        entry = {k: file.get(k) for k in ("id", "filename", "bytes", "created_at")}

        def change(data: dict[str, Any]) -> None:
            data["files"][f"{scope} {sha256}"] = entry
            data["pending"].pop(f"{scope} {sha256}", None)

        self._update(change)

    def forget_file(self, scope: str, sha256: str) -> None:
        self._update(lambda data: data["files"].pop(f"{scope} {sha256}", None))

    # -- multipart uploads in progress -----------------------------------------------------------
    def pending(self, scope: str, sha256: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._read()["pending"].get(f"{scope} {sha256}")
        return entry if isinstance(entry, dict) else None

    def start_pending(self, scope: str, sha256: str, entry: dict[str, Any]) -> None:
        self._update(lambda data: data["pending"].__setitem__(f"{scope} {sha256}", entry))

    def add_part(self, scope: str, sha256: str, index: int, part_id: str) -> None:
        def change(data: dict[str, Any]) -> None:
            entry = data["pending"].get(f"{scope} {sha256}")
            if isinstance(entry, dict):
                entry.setdefault("parts", {})[str(index)] = part_id

        self._update(change)

    def drop_pending(self, scope: str, sha256: str) -> None:
        self._update(lambda data: data["pending"].pop(f"{scope} {sha256}", None))
