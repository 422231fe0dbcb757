"""Streaming readers for prompt/completion tables: JSONL, JSON (an array, or one object per line),
CSV, TSV, XLSX (first sheet) and TXT (each line a completion with an empty prompt).

Each reader yields (line, row) pairs: the 1-based line (the row number for XLSX) where the record
starts, and a dict of column name -> text. Values become text as the legacy tool read them: null
and missing cells become "", numbers and booleans their Python spelling. A file that cannot be read
raises InputError naming the file and line.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ftctl.errors import InputError

Row = dict[str, str]

KINDS = {
    ".jsonl": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".xlsx": "xlsx",
    ".txt": "txt",
}
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str  # jsonl | json | csv | tsv | xlsx | txt
    layout: str  # lines (one JSON object per line) | array (one JSON array) | table | text
    sheets: int = 1


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _first_char(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    stripped = head.lstrip()
    return chr(stripped[0]) if stripped else ""


def _json_layout(path: Path) -> str:
    """`array` for a JSON array (or one object spread over lines), `lines` for JSON Lines."""
    if _first_char(path) == "[":
        return "array"
    with path.open("rb") as fh:
        for raw in fh:
            if raw.strip():
                try:
                    json.loads(raw)
                except ValueError:
                    return "array"  # an object spread over several lines
                return "lines"
    return "lines"


def open_source(path: Path) -> Source:
    """Recognise the file by its extension (and, for JSON, its layout)."""
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a file")
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        got = f"`{path.suffix}`" if path.suffix else "no extension"
        raise InputError(
            path,
            f"unsupported file type ({got}); use .jsonl, .json, .csv, .tsv, .xlsx or .txt",
        )
    if kind in ("json", "jsonl"):
        return Source(path, kind, _json_layout(path))
    if kind == "xlsx":
        return Source(path, kind, "table", sheets=_xlsx_sheet_count(path))
    return Source(path, kind, "text" if kind == "txt" else "table")


def iter_rows(src: Source) -> Iterator[tuple[int, Row]]:
    if src.kind in ("json", "jsonl"):
        if src.layout == "lines":
            return _iter_json_lines(src.path)
        return _iter_json_array(src.path)
    if src.kind in ("csv", "tsv"):
        return _iter_delimited(src.path, "," if src.kind == "csv" else "\t")
    if src.kind == "xlsx":
        return _iter_xlsx(src.path)
    return _iter_txt(src.path)


def _as_row(path: Path, line: int, obj: Any) -> Row:
    if not isinstance(obj, dict):
        raise InputError(path, "each record must be a JSON object", line=line)
    return {str(k): _text(v) for k, v in obj.items()}


def _iter_json_lines(path: Path) -> Iterator[tuple[int, Row]]:
    loads = json.loads
    with path.open("rb") as fh:
        for number, line in enumerate(fh, 1):
            raw = line[3:] if number == 1 and line.startswith(codecs.BOM_UTF8) else line
            if not raw.strip():
                continue
            try:
                obj = loads(raw)
            except UnicodeDecodeError:
                raise InputError(path, "not UTF-8 text", line=number) from None
            except ValueError as exc:
                raise InputError(path, f"not valid JSON ({exc.args[0]})", line=number) from None
            if type(obj) is dict and all(type(v) is str for v in obj.values()):
                yield number, obj
            else:
                yield number, _as_row(path, number, obj)


def _iter_json_array(path: Path) -> Iterator[tuple[int, Row]]:
    """The elements of a top-level JSON array, decoded one at a time (flat memory)."""
    decoder = json.JSONDecoder()
    with path.open("r", encoding="utf-8-sig") as fh:
        buf = ""
        pos = 0
        line = 1
        eof = False

        def more() -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = _read(fh, path)
            if not chunk:
                eof = True
                return False
            buf = buf[pos:] + chunk
            pos = 0
            return True

        def skip_ws() -> str:
            nonlocal pos, line
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    if buf[pos] == "\n":
                        line += 1
                    pos += 1
                if pos < len(buf):
                    return buf[pos]
                if not more():
                    return ""

        first = skip_ws()
        if first == "{":
            # one object spread over several lines: a single record
            while more():
                pass
            try:
                obj, _end = decoder.raw_decode(buf, pos)
            except ValueError as exc:
                raise InputError(path, f"not valid JSON ({exc.args[0]})", line=line) from None
            yield line, _as_row(path, line, obj)
            return
        if first != "[":
            raise InputError(path, "expected a JSON array of objects", line=line)
        pos += 1
        if skip_ws() == "]":
            pos += 1
        else:
            while True:
                start_line = line
                while True:
                    try:
                        obj, end = decoder.raw_decode(buf, pos)
                        break
                    except ValueError as exc:
                        if not more():
                            raise InputError(
                                path, f"not valid JSON ({exc.args[0]})", line=start_line
                            ) from None
                line += buf.count("\n", pos, end)
                pos = end
                yield start_line, _as_row(path, start_line, obj)
                ch = skip_ws()
                if ch == ",":
                    pos += 1
                    skip_ws()
                    continue
                if ch == "]":
                    pos += 1
                    break
                if ch == "":
                    raise InputError(path, "the JSON array is not closed", line=line)
                raise InputError(path, "expected `,` or `]` between records", line=line)
        if skip_ws() != "":
            raise InputError(path, "unexpected text after the JSON array", line=line)


def _read(fh: IO[str], path: Path) -> str:
    try:
        return fh.read(_READ_CHUNK)
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None


def _header_names(cells: list[str]) -> list[str]:
    """Column names, with repeats renamed `name.1`, `name.2` as pandas does."""
    seen: dict[str, int] = {}
    names = []
    for cell in cells:
        name = cell
        if name in seen:
            seen[name] += 1
            name = f"{cell}.{seen[cell]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _iter_delimited(path: Path, delimiter: str) -> Iterator[tuple[int, Row]]:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header: list[str] | None = None
            start = 1
            for cells in reader:
                line = start
                start = reader.line_num + 1
                if not cells or (all(not c for c in cells) and len(cells) <= 1):
                    continue
                if header is None:
                    header = _header_names(cells)
                    continue
                if len(cells) > len(header):
                    raise InputError(
                        path,
                        f"expected {len(header)} fields, saw {len(cells)}",
                        line=line,
                    )
                row = dict(zip(header, cells, strict=False))
                for name in header[len(cells) :]:
                    row[name] = ""
                yield line, row
            if header is None:
                raise InputError(path, "no header row: the file is empty")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    except csv.Error as exc:
        raise InputError(path, f"not valid {path.suffix[1:].upper()} ({exc})") from None


def _xlsx_sheet_count(path: Path) -> int:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise InputError(path, f"not a valid XLSX file ({exc})") from None
    try:
        return len(book.sheetnames)
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _iter_xlsx(path: Path) -> Iterator[tuple[int, Row]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(path, f"not a valid XLSX file ({exc})") from None
    try:
        sheet = book.worksheets[0]
        header: list[str] | None = None
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            cells = [_cell_text(v) for v in values]
            if header is None:
                if not any(cells):
                    continue
                while cells and not cells[-1]:
                    cells.pop()
                header = _header_names(cells)
                continue
            if not any(cells):
                continue
            row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header)}
            yield number, row
        if header is None:
            raise InputError(path, "no header row: the first sheet is empty")
    finally:
        book.close()


def _iter_txt(path: Path) -> Iterator[tuple[int, Row]]:
    """Each line is a completion with an empty prompt; like the legacy tool, the text after the
    last newline counts as a line too (empty for a file ending in a newline)."""
    try:
        with path.open("r", encoding="utf-8") as fh:
            number = 0
            last = "\n"
            for number, text in enumerate(fh, 1):
                last = text
                yield number, {"prompt": "", "completion": text.removesuffix("\n")}
            if last.endswith("\n"):
                yield number + 1, {"prompt": "", "completion": ""}
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None


def line_aligned_ranges(path: Path, size: int, chunk_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of about `chunk_bytes` that start and end on line boundaries, for workers."""
    ranges: list[tuple[int, int]] = []
    start = 0
    with path.open("rb") as fh:
        while start < size:
            target = start + chunk_bytes
            if target >= size:
                ranges.append((start, size))
                break
            fh.seek(target)
            fh.readline()
            end = fh.tell()
            ranges.append((start, end))
            start = end
    return ranges
