"""Reinforcement data against its grader: every `{{item.x}}` a grader reads must be in every line.

A grader reads the item (a line's top-level fields but `messages`: records.reinforcement_item)
and the sample (the model's answer: `{{sample.output_text}}`, ...). `prepare --grader` and
`create --grader` check each reference against each line before anything is uploaded, so a
missing field is reported as file:line, not found by a failed job hours later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftctl.errors import InputError
from ftctl.prepare.records import record_format, reinforcement_item
from ftctl.prepare.scan import ScanResult

# -- the grader's references --------------------------------------------------------------------
# A small private reading of the template language, until ftctl.graders.templates (helper
# GRADERS) is on main; then _references becomes ftctl.graders.templates.template_references.

_SAMPLE_FIELDS = frozenset(
    {"output_text", "output_json", "output_tools", "choices", "output_audio"}
)


@dataclass(frozen=True)
class _Reference:
    namespace: str
    path: tuple[str | int, ...]
    field: str  # where in the grader (`graders.a.reference`)
    text: str  # the template as written

    @property
    def dotted(self) -> str:
        out = self.namespace
        for step in self.path:
            out += f"[{step}]" if isinstance(step, int) else f".{step}"
        return out


def _template_strings(grader: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    kind = grader.get("type")
    if kind in ("string_check", "text_similarity"):
        for key in ("input", "reference"):
            if isinstance(grader.get(key), str):
                yield f"{prefix}{key}", grader[key]
    elif kind in ("score_model", "label_model") and isinstance(grader.get("input"), list):
        for number, message in enumerate(grader["input"]):
            content = message.get("content") if isinstance(message, Mapping) else None
            yield from _content_strings(content, f"{prefix}input[{number}].content")
    elif kind == "multi" and isinstance(grader.get("graders"), Mapping):
        graders = grader["graders"]
        named = [("grader", graders)] if "type" in graders else list(graders.items())
        for name, sub in named:
            if isinstance(sub, Mapping):
                yield from _template_strings(sub, f"{prefix}graders.{name}.")


def _content_strings(content: object, field: str) -> Iterator[tuple[str, str]]:
    if isinstance(content, str):
        yield field, content
    elif isinstance(content, Mapping) and isinstance(content.get("text"), str):
        yield f"{field}.text", content["text"]
    elif isinstance(content, list):
        for number, part in enumerate(content):
            yield from _content_strings(part, f"{field}[{number}]")


def _parse(inner: str, field: str, text: str) -> _Reference:
    head, _, rest = inner.partition(".")
    steps: list[str | int] = []
    for piece in re.findall(r"[^.\[\]]+|\[\d+\]", rest):
        steps.append(int(piece[1:-1]) if piece.startswith("[") else piece)
    if head not in ("item", "sample") or not steps:
        raise GraderError(f"{field}: {text} is not a variable like {{{{item.field}}}}")
    if head == "sample" and steps[0] not in _SAMPLE_FIELDS:
        fields = ", ".join(sorted(_SAMPLE_FIELDS))
        raise GraderError(f"{field}: {text}: the sample namespace has {fields}")
    return _Reference(head, tuple(steps), field, text)


def _references(grader: Mapping[str, Any]) -> list[_Reference]:
    found = []
    for field, text in _template_strings(grader):
        for match in re.finditer(r"\{\{\s*([^{}]*?)\s*\}\}", text):
            found.append(_parse(match.group(1), field, match.group(0)))
    return found


def _has(value: object, path: tuple[str | int, ...]) -> bool:
    for step in path:
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(value, Mapping) and str(step) in value:
            value = value[str(step)]
        else:
            return False
    return True


# -- public -------------------------------------------------------------------------------------


class GraderError(ValueError):
    """A grader whose references cannot be read."""


@dataclass(frozen=True)
class MissingField:
    line: int
    field: str  # `item.answer`
    message: str


def load_grader(path: Path) -> dict[str, Any]:
    """The grader object in a JSON file; InputError naming the file when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    try:
        grader = json.loads(text)
    except ValueError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    if not isinstance(grader, dict) or not isinstance(grader.get("type"), str):
        raise InputError(path, "a grader is a JSON object with a `type`", field="type")
    return grader


def grader_references(grader: Mapping[str, Any], path: Path) -> list[str]:
    """`item.x` / `sample.y` for every reference, in order; InputError for a malformed one."""
    try:
        return [ref.dotted for ref in _references(grader)]
    except GraderError as exc:
        raise InputError(path, str(exc)) from None


def missing_fields(
    data: Path, grader: Mapping[str, Any], grader_path: Path
) -> Iterator[MissingField]:
    """Each (line, reference) of reinforcement data whose item lacks a field the grader reads.

    Lines that are not JSON objects with `messages` are left to the per-line rules (records)."""
    try:
        wanted = [ref for ref in _references(grader) if ref.namespace == "item"]
    except GraderError as exc:
        raise InputError(grader_path, str(exc)) from None
    if not wanted:
        return
    first: dict[tuple[str | int, ...], _Reference] = {}
    for ref in wanted:
        first.setdefault(ref.path, ref)
    unique = list(first.values())
    with data.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError:
                continue
            if record_format(row) != "chat":
                continue
            item = reinforcement_item(row)
            for ref in unique:
                if not _has(item, ref.path):
                    yield MissingField(
                        number,
                        ref.dotted,
                        f"the grader reads {ref.text} ({ref.field}); this line has no "
                        f"`{ref.dotted.removeprefix('item.')}`",
                    )


def add_grader_problems(scan: ScanResult, grader_path: Path) -> None:
    """Record, on a scan of reinforcement data, each line that lacks a field its grader reads."""
    grader = load_grader(grader_path)
    for missing in missing_fields(scan.path, grader, grader_path):
        scan.add_problem("grader_field_missing", missing.line, missing.field, missing.message)
