"""Reinforcement data against its grader: every `{{item.x}}` a grader reads must be in every line.

A grader reads the item (a line's top-level fields but `messages`: records.reinforcement_item)
and the sample (the model's answer: `{{sample.output_text}}`, ...). `prepare --grader` and
`create --grader` check each reference against each line before anything is uploaded, so a
missing field is reported as file:line, not found by a failed job hours later.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftctl.errors import InputError
from ftctl.prepare.records import record_format, reinforcement_item
from ftctl.prepare.scan import ScanResult


@dataclass(frozen=True)
class MissingField:
    line: int
    field: str  # `item.answer`
    message: str


def missing_fields(
    data: Path, grader: Mapping[str, Any], grader_path: Path
) -> Iterator[MissingField]:
    """Each (line, reference) of reinforcement data whose item lacks a field the grader reads.

    Lines that are not JSON objects with `messages` are left to the per-line rules (records)."""
    # the template language is the graders package's (imported here: prepare without a grader
    # never pays for loading the grader engine)
    from ftctl.graders.templates import TemplateError, item_references, missing_item_fields

    try:
        wanted = item_references(grader)
    except TemplateError as exc:
        raise InputError(grader_path, str(exc)) from None
    if not wanted:
        return
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
            for ref in missing_item_fields(wanted, reinforcement_item(row)):
                yield MissingField(
                    number,
                    ref.dotted,
                    f"the grader reads {ref.text} ({ref.field}); this line has no "
                    f"`{ref.dotted.removeprefix('item.')}`",
                )


def add_grader_problems(scan: ScanResult, grader_path: Path) -> None:
    """Record, on a scan of reinforcement data, each line that lacks a field its grader reads."""
    from ftctl.graders import GraderError, validate_grader
    from ftctl.service.graders import load_grader  # the one reader of grader files

    grader = load_grader(grader_path)
    try:
        validate_grader(grader)  # what the service would refuse in the grader itself, offline
    except GraderError as exc:
        raise InputError(
            grader_path,
            exc.message,
            hint=f"`ftctl graders validate {grader_path}` asks the service",
        ) from None
    for missing in missing_fields(scan.path, grader, grader_path):
        scan.add_problem("grader_field_missing", missing.line, missing.field, missing.message)
