"""Graders: validate one, or run one on an item and a model sample, through the API.

The grader file is read here too (a JSON grader object, or a request body holding one under
`grader`), so the CLI only parses flags and renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftctl.errors import InputError
from ftctl.service._raw import json_object

if TYPE_CHECKING:
    import openai


def load_json_object(text: str, source: str, what: str) -> dict[str, Any]:
    """A JSON object from `text`; InputError naming `source` and the line otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            source, f"not valid JSON: {error.msg} (column {error.colno})", line=error.lineno
        ) from None
    if not isinstance(value, dict):
        raise InputError(source, f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def read_text(path: Path) -> str:
    """A user's file as UTF-8 text; InputError when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    except OSError as error:
        raise InputError(path, error.strerror or str(error)) from None


def load_grader(path: Path) -> dict[str, Any]:
    """The grader object in a file: a grader, or `{"grader": {...}}` as the API's body has it."""
    grader = load_json_object(read_text(path), str(path), "a grader")
    inner = grader.get("grader")
    if "type" not in grader and isinstance(inner, dict):
        return inner
    if "type" not in grader:
        raise InputError(path, "a grader needs a `type` (string_check, text_similarity, ...)")
    return grader


def error_flags(result: dict[str, Any]) -> list[str]:
    """The names of the error flags set in a run result's metadata.errors."""
    errors = result.get("metadata", {}).get("errors") or {}
    return [name for name, value in errors.items() if value is True]


class GradersService:
    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    def validate(self, grader: dict[str, Any]) -> dict[str, Any]:
        raw = self._client.fine_tuning.alpha.graders.with_raw_response.validate(
            grader=grader,  # type: ignore[arg-type]  # a user's JSON, checked by the service
        )
        return json_object(raw)

    def run(
        self, grader: dict[str, Any], *, model_sample: str, item: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {} if item is None else {"item": item}
        raw = self._client.fine_tuning.alpha.graders.with_raw_response.run(
            grader=grader,  # type: ignore[arg-type]
            model_sample=model_sample,
            **extra,
        )
        return json_object(raw)
