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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ftctl.prepare import engine, files
from ftctl.prepare.engine import BadLine, Segment
from ftctl.prepare.files import (
    LineTooLong,
    NotJson,
    bounded_text_lines,
    check_input_path,
    input_error,
    line_too_long,
    reject_constant,
    too_deep,
)

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


class RowError(Exception):
    """A bad row, located by its line within what was read (a segment, or the file)."""

    def __init__(self, line: int, message: str, hint: str | None = None) -> None:
        super().__init__(line, message, hint)
        self.line = line
        self.message = message
        self.hint = hint


def as_text(value: Any) -> str:
    """A JSON value as the legacy tool read it into a cell: null "", numbers and booleans their
    Python spelling, arrays and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def as_row(line: int, value: object) -> Row:
    """A parsed JSON line as a row of texts; RowError when it is not a JSON object."""
    if type(value) is BadLine:
        raise RowError(line, value.message)
    if not isinstance(value, dict):
        raise RowError(line, "each record must be a JSON object")
    return {str(k): as_text(v) for k, v in value.items()}


def _rows(values: Iterable[tuple[int, object]]) -> Iterator[tuple[int, Row]]:
    for number, value in values:
        if type(value) is dict:
            for v in value.values():
                if type(v) is not str:
                    yield number, as_row(number, value)
                    break
            else:
                yield number, value
        else:
            yield number, as_row(number, value)


def segment_rows(path: Path, segment: Segment) -> tuple[int, Iterator[tuple[int, Row]]]:
    """(physical lines, rows) of the JSON Lines in a segment of path; lines count from 1 in the
    segment. RowError for a row that is not a JSON object."""
    lines = engine.read_segment(path, segment)
    return len(lines), _rows(engine.parse_lines(lines))


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
    try:
        for _number, raw in engine.first_values(path):
            try:
                json.loads(raw)
            except ValueError:
                return "array"  # an object spread over several lines
            except RecursionError:
                return "lines"  # the line is read again, and refused there
            return "lines"
    except LineTooLong:
        return "lines"  # refused, with its line, when the lines are read
    return "lines"


def open_source(path: Path) -> Source:
    """Recognise the file by its extension (and, for JSON, its layout). InputError for a path
    that is not a readable regular file (ftctl.prepare.files.check_input_path)."""
    check_input_path(path)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        got = f"`{path.suffix}`" if path.suffix else "no extension"
        raise input_error(
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


def _iter_json_lines(path: Path) -> Iterator[tuple[int, Row]]:
    try:
        yield from _rows(engine.file_values(path))
    except LineTooLong as exc:
        raise line_too_long(path, exc.line) from None
    except RowError as exc:
        raise input_error(path, exc.message, line=exc.line, hint=exc.hint) from None


def _as_row(path: Path, line: int, obj: Any) -> Row:
    try:
        return as_row(line, obj)
    except RowError as exc:
        raise input_error(path, exc.message, line=exc.line) from None


def _iter_json_array(path: Path) -> Iterator[tuple[int, Row]]:
    """The elements of a top-level JSON array, decoded one at a time (flat memory)."""
    decoder = json.JSONDecoder(parse_constant=reject_constant)
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

        def record_at(start_line: int, final: bool) -> tuple[Any, int] | None:
            """The value at pos and its end, None when more text may complete it."""
            try:
                return decoder.raw_decode(buf, pos)
            except NotJson as exc:
                raise input_error(path, str(exc), line=start_line) from None
            except RecursionError:
                raise input_error(path, too_deep(), line=start_line) from None
            except ValueError as exc:
                if final:
                    message = f"not valid JSON ({exc.args[0]})"
                    raise input_error(path, message, line=start_line) from None
                if len(buf) - pos > files.MAX_LINE_BYTES:
                    raise input_error(path, too_long_record(), line=start_line) from None
                return None

        first = skip_ws()
        if first == "{":
            # one object spread over several lines: a single record
            while more():
                if len(buf) - pos > files.MAX_LINE_BYTES:
                    raise input_error(path, too_long_record(), line=line)
            found = record_at(line, True)
            assert found is not None
            yield line, _as_row(path, line, found[0])
            return
        if first != "[":
            raise input_error(path, "expected a JSON array of objects", line=line)
        pos += 1
        if skip_ws() == "]":
            pos += 1
        else:
            while True:
                start_line = line
                found = record_at(start_line, False)
                while found is None:
                    found = record_at(start_line, not more())
                obj, end = found
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
                    raise input_error(path, "the JSON array is not closed", line=line)
                raise input_error(path, "expected `,` or `]` between records", line=line)
        if skip_ws() != "":
            raise input_error(path, "unexpected text after the JSON array", line=line)


def too_long_record() -> str:
    return f"a record longer than {files.MAX_LINE_BYTES:,} bytes"


def _read(fh: IO[str], path: Path) -> str:
    try:
        return fh.read(_READ_CHUNK)
    except UnicodeDecodeError:
        raise input_error(path, "not UTF-8 text") from None


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
            # fields as long as a line may be (csv's own limit is 128 KiB; pandas has none)
            csv.field_size_limit(max(csv.field_size_limit(), files.MAX_LINE_BYTES))
            reader = csv.reader(bounded_text_lines(fh), delimiter=delimiter)
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
                    raise input_error(
                        path,
                        f"expected {len(header)} fields, saw {len(cells)}",
                        line=line,
                    )
                row = dict(zip(header, cells, strict=False))
                for name in header[len(cells) :]:
                    row[name] = ""
                yield line, row
            if header is None:
                raise input_error(path, "no header row: the file is empty")
    except UnicodeDecodeError:
        raise input_error(path, "not UTF-8 text") from None
    except LineTooLong as exc:
        raise line_too_long(path, exc.line) from None
    except csv.Error as exc:
        raise input_error(path, f"not valid {path.suffix[1:].upper()} ({exc})") from None


def _xlsx_sheet_count(path: Path) -> int:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise input_error(path, f"not a valid XLSX file ({exc})") from None
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
        raise input_error(path, f"not a valid XLSX file ({exc})") from None
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
            raise input_error(path, "no header row: the first sheet is empty")
    finally:
        book.close()


def _iter_txt(path: Path) -> Iterator[tuple[int, Row]]:
    """Each line is a completion with an empty prompt; like the legacy tool, the text after the
    last newline counts as a line too (empty for a file ending in a newline)."""
    try:
        with path.open("r", encoding="utf-8") as fh:
            number = 0
            last = "\n"
            for number, text in enumerate(bounded_text_lines(fh), 1):
                last = text
                yield number, {"prompt": "", "completion": text.removesuffix("\n")}
            if last.endswith("\n"):
                yield number + 1, {"prompt": "", "completion": ""}
    except UnicodeDecodeError:
        raise input_error(path, "not UTF-8 text") from None
    except LineTooLong as exc:
        raise line_too_long(path, exc.line) from None
