"""Output files: written to a temporary file beside the target, then put in place, so a reader never
sees half a file. An existing file is replaced only when the caller says so (`--force`); the
file gets the mode a new file gets under the user's umask, like any file the shell creates."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
from pathlib import Path
from typing import TextIO


def prepared_names(source: Path, split: bool, *, tag: str = "_prepared") -> list[Path]:
    """`<name>_prepared.jsonl` (or `_prepared_train` / `_prepared_valid`) beside source."""
    stem = source.with_suffix("")
    return [Path(f"{stem}{tag}{s}.jsonl") for s in (["_train", "_valid"] if split else [""])]


def split_names(target: Path) -> list[Path]:
    """The train and validation files for an output named target: `<stem>_train<suffix>` and
    `<stem>_valid<suffix>`."""
    suffix = target.suffix or ".jsonl"
    return [target.with_name(f"{target.stem}{part}{suffix}") for part in ("_train", "_valid")]


def prompt_completion_jsonl(rows: Iterable[tuple[str, str]]) -> str:
    """JSON Lines of {"prompt", "completion"} as the legacy tool wrote them (pandas'
    `to_json(orient="records", lines=True, force_ascii=False)`): json's string escapes, no
    spaces, and `/` written as `\\/` (no `/` is outside the quoted texts)."""
    quote = encode_basestring
    text = "".join(['{"prompt":' + quote(p) + ',"completion":' + quote(c) + "}\n" for p, c in rows])
    return text.replace("/", "\\/") if "/" in text else text


def _new_file_mode() -> int:
    """The mode open() gives a new file: 0o666 less the umask (read without changing it for
    long: os.umask is the only way to read it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


class AtomicWriter:
    """A text file that appears at its final path only when commit() is called."""

    def __init__(self, target: Path, *, overwrite: bool = False) -> None:
        self.target = target
        self.overwrite = overwrite
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        self._tmp = Path(tmp)
        os.fchmod(fd, _new_file_mode())  # mkstemp makes 0600
        self.fh: TextIO = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def write(self, text: str) -> None:
        self.fh.write(text)

    def append_file(self, path: str | Path) -> None:
        """Append the bytes of the UTF-8 text file at path (no decoding and re-encoding)."""
        self.fh.flush()
        with open(path, "rb") as src:
            shutil.copyfileobj(src, self.fh.buffer, 1 << 20)

    def commit(self) -> Path:
        """Put the file in place: FileExistsError if the target exists and overwrite is off (it
        may have appeared while the file was written)."""
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        if self.overwrite:
            os.replace(self._tmp, self.target)
            return self.target
        try:
            os.link(self._tmp, self.target)
        except FileExistsError:
            self.abort()
            raise
        except OSError:  # no hard links here: check, then rename
            if self.target.exists():
                self.abort()
                raise FileExistsError(self.target) from None
            os.replace(self._tmp, self.target)
            return self.target
        self._tmp.unlink()
        return self.target

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


@contextlib.contextmanager
def atomic_files(targets: list[Path], *, overwrite: bool = False) -> Iterator[list[AtomicWriter]]:
    """Writers for targets: all committed when the block ends normally, none otherwise."""
    writers = [AtomicWriter(t, overwrite=overwrite) for t in targets]
    try:
        yield writers
    except BaseException:
        for w in writers:
            w.abort()
        raise
    for i, w in enumerate(writers):
        try:
            w.commit()
        except BaseException:
            for other in writers[i + 1 :]:
                other.abort()
            raise
