"""Verbatim JSON from the SDK's raw responses: `--json` prints exactly what the API sent, and the
renderers read dicts, so a real deviation from the schema (`"error": {}`, no `seed`) never breaks
parsing."""

from __future__ import annotations

import json
from typing import Any, Protocol

from ftctl.errors import FtctlError


class RawResponse(Protocol):
    @property
    def text(self) -> str: ...


def json_object(raw: RawResponse) -> dict[str, Any]:
    try:
        body = json.loads(raw.text)
    except ValueError as exc:
        raise FtctlError(f"the API answered with something that is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise FtctlError("the API answered with JSON that is not an object")
    return body
