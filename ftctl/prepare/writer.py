"""Output files: written to a temporary file beside the target, then linked into place, so a
reader never sees half a file and an existing file is never overwritten."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from json.encoder import encode_basestring
from pathlib import Path
from typing import TextIO


def prepared_names(src: Path, split: bool, *, tag: str = "_prepared") -> list[Path]:
    """`<name>_prepared.jsonl` (or `_prepared_train` / `_prepared_valid`) beside src, with ` (1)`,
    ` (2)`, ... added until no candidate exists."""
    suffixes = ["_train", "_valid"] if split else [""]
    stem = src.with_suffix("")
    i = 0
    while True:
        index = f" ({i})" if i else ""
        names = [Path(f"{stem}{tag}{s}{index}.jsonl") for s in suffixes]
        if not any(n.exists() for n in names):
            return names
        i += 1


def dumps_pandas(text: str) -> str:
    """A JSON string as pandas' `to_json(force_ascii=False)` spells it (the legacy tool's writer):
    json's escapes, plus `/` written as `\\/`."""
    quoted: str = encode_basestring(text)
    return quoted.replace("/", "\\/") if "/" in quoted else quoted


def prompt_completion_line(prompt: str, completion: str) -> str:
    return '{"prompt":' + dumps_pandas(prompt) + ',"completion":' + dumps_pandas(completion) + "}\n"


class AtomicWriter:
    """A text file that appears at its final path only when commit() is called."""

    def __init__(self, target: Path) -> None:
        self.target = target
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        self._tmp = Path(tmp)
        self.fh: TextIO = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def write(self, text: str) -> None:
        self.fh.write(text)

    def append_file(self, path: str | Path) -> None:
        """Append the bytes of the UTF-8 text file at path (no decoding and re-encoding)."""
        import shutil

        self.fh.flush()
        with open(path, "rb") as src:
            shutil.copyfileobj(src, self.fh.buffer, 1 << 20)

    def commit(self) -> Path:
        """Put the file in place; if the target appeared meanwhile, take the next free name."""
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        target = self.target
        while True:
            try:
                os.link(self._tmp, target)
            except FileExistsError:
                target = _next_free(target)
                continue
            except OSError:  # no hard links here: check, then rename
                if target.exists():
                    target = _next_free(target)
                    continue
                os.replace(self._tmp, target)
                self.target = target
                return target
            self._tmp.unlink()
            self.target = target
            return target

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


def _next_free(path: Path) -> Path:
    stem, suffix = path.stem, path.suffix
    i = 1
    while True:
        candidate = path.with_name(f"{stem} ({i}){suffix}")
        if not candidate.exists():
            return candidate
        i += 1


@contextlib.contextmanager
def atomic_files(targets: list[Path]) -> Iterator[list[AtomicWriter]]:
    """Writers for targets: all committed when the block ends normally, none otherwise."""
    writers = [AtomicWriter(t) for t in targets]
    try:
        yield writers
    except BaseException:
        for w in writers:
            w.abort()
        raise
    for w in writers:
        w.commit()
