"""`ftctl mock serve --state DIR`: the store's records in SQLite (stdlib sqlite3), file bytes
next to it, so a restart (or a kill -9) loses nothing.

Every change is written through as it happens, one autocommitted statement in WAL mode, which
survives the process being killed at any point. The store keeps its working set (and its indexes)
in memory and reads SQLite only at start, so requests cost the same with or without a state
directory. A job's plan is not stored: it is recomputed from the stored dataset, seed and
hyperparameters, which is what made it in the first place.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (kind, seq);
"""


class StateError(Exception):
    """The state directory cannot be used (not a directory, unreadable, in use, not ours)."""


class StateDB:
    """Records by kind ("file", "upload", "job", "model", "dataset", "deleted_model")."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.blobs = directory / "blobs"
            self.blobs.mkdir(exist_ok=True)
            self._lock = (directory / "lock").open("a")
        except OSError as exc:
            raise StateError(f"cannot use --state {directory}: {exc.strerror or exc}") from None
        if not _try_lock(self._lock.fileno()):
            self._lock.close()
            raise StateError(f"--state {directory} is in use by another running mock server")
        self.directory = directory
        try:
            # Autocommit; handlers that run on worker threads only read, never write.
            self.conn = sqlite3.connect(
                directory / "state.sqlite3", isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"cannot use --state {directory}: {exc}") from None

    def start(self) -> int:
        """Count this start (1 for a fresh directory): mixed into ids, so none repeats."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'starts'").fetchone()
        starts = (int(row[0]) if row else 0) + 1
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('starts', ?)", (str(starts),)
        )
        return starts

    def save(self, kind: str, record_id: str, seq: int, data: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO objects (kind, id, seq, data) VALUES (?, ?, ?, ?)",
            (kind, record_id, seq, json.dumps(data, allow_nan=False, separators=(",", ":"))),
        )

    def delete(self, kind: str, record_id: str) -> None:
        self.conn.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, record_id))

    def load(self, kind: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
        rows = self.conn.execute(
            "SELECT id, seq, data FROM objects WHERE kind = ? ORDER BY seq", (kind,)
        )
        for record_id, seq, data in rows:
            yield record_id, seq, json.loads(data)

    def close(self) -> None:
        self.conn.close()
        self._lock.close()


def _try_lock(fd: int) -> bool:
    """An exclusive lock on the directory, released when the process ends (even by kill -9)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
