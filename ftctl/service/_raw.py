"""Verbatim JSON from the SDK's raw responses: `--json` prints exactly what the API sent, and the
renderers read dicts, so a real deviation from the schema (`"error": {}`, no `seed`) never breaks
parsing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
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


def pages(
    read_page: Callable[[str | None], dict[str, Any]],
    *,
    notify: Callable[[str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """The pages of a cursor-paged list, first to last; `read_page(after)` reads the page after
    the id `after` (None: the first). Stops when a page repeats an id already read: a server that
    ignores `after`, or always says `has_more`, cannot make it loop."""
    page = read_page(None)
    seen = {item.get("id") for item in page.get("data") or []}
    yield page
    while page.get("has_more") and page.get("data"):
        after = str(page["data"][-1].get("id"))
        page = read_page(after)
        fresh = page.get("data") or []
        if any(item.get("id") in seen for item in fresh):
            if notify is not None:
                notify(f"the service repeated items after {after}: stopped reading pages")
            return
        seen.update(item.get("id") for item in fresh)
        yield page


def merge_pages(
    read_page: Callable[[str | None], dict[str, Any]],
    *,
    notify: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every page merged into the first page's object, under `data` (see `pages`)."""
    merged: dict[str, Any] = {}
    data: list[Any] = []
    for page in pages(read_page, notify=notify):
        merged = merged or dict(page)
        data.extend(page.get("data") or [])
    merged["data"] = data
    merged["has_more"] = False
    return merged
