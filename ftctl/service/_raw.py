"""Verbatim JSON from the SDK's raw responses: `--json` prints exactly what the API sent, and the
renderers read dicts, so a real deviation from the schema (`"error": {}`, no `seed`) never breaks
parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
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


def merge_pages(read_page: Callable[[str | None], dict[str, Any]]) -> dict[str, Any]:
    """Every page of a cursor-paged list merged into the first page's object, under `data`.

    `read_page(after)` reads the page after the id `after` (None: the first page)."""
    first = read_page(None)
    merged = dict(first)
    data = list(first.get("data") or [])
    page = first
    while page.get("has_more") and page.get("data"):
        page = read_page(str(page["data"][-1]["id"]))
        data.extend(page.get("data") or [])
    merged["data"] = data
    merged["has_more"] = False
    return merged
