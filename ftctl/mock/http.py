"""Request plumbing shared by the routes: the envelope every response goes through (request id,
the service's headers, the bearer-key check, one log line), the route wrapper every handler is
registered with (clock read once, body parsed and checked), error responses, paging helpers."""

from __future__ import annotations

import inspect
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftctl.mock import errors
from ftctl.mock.errors import APIError

if TYPE_CHECKING:
    from ftctl.mock.store import Limits, Store

log = logging.getLogger("ftctl.mock")

OPENAI_VERSION = "2020-10-01"
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 30  # larger integers are refused before Python turns them into numbers


def error_response(exc: APIError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


class Envelope:
    """Pure ASGI middleware, so streamed bodies pass through untouched."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self.store.request_id()
        scope.setdefault("state", {})["request_id"] = request_id  # for ids derived from it
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["openai-version"] = OPENAI_VERSION
                headers["openai-organization"] = self.store.org
                elapsed = int((time.perf_counter() - started) * 1000)
                headers["openai-processing-ms"] = str(elapsed)
            await send(message)

        auth = Headers(scope=scope).get("authorization", "")
        scheme, _, key = auth.partition(" ")
        try:
            if scheme.lower() != "bearer" or not key.strip():
                await error_response(errors.no_api_key())(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            client = scope.get("client") or ("-", 0)
            query = scope.get("query_string", b"").decode("latin-1")
            path = scope["path"] + (f"?{query}" if query else "")
            log.info(
                '%s "%s %s" %d %.0fms %s',
                client[0],
                scope["method"],
                path,
                status,
                elapsed_ms,
                request_id,
            )


# -- the route wrapper --------------------------------------------------------------------------
@dataclass
class Call:
    """One request as a handler sees it: the store, the clock read once, the parsed body."""

    request: Request
    store: Store
    now: float
    body: dict[str, Any] = field(default_factory=dict)
    form: dict[str, tuple[str | None, bytes]] = field(default_factory=dict)

    @property
    def path(self) -> dict[str, Any]:
        return self.request.path_params

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        return query_int(self.query, name, default, low, high)


Result = Response | dict[str, Any]
Handler = Callable[[Call], Awaitable[Result]] | Callable[[Call], Result]
BodyKind = Literal["none", "json", "form"]


@dataclass(frozen=True)
class FormLimit:
    """How big a multipart body may be: the store's limit, named for the 413's `param`."""

    param: str
    limit: Callable[[Limits], int]


def endpoint(
    method: str,
    path: str,
    handler: Handler,
    *,
    body: BodyKind = "none",
    form_limit: FormLimit | None = None,
) -> Route:
    """Register `handler`: the body is read and checked first, then the clock is read once (which
    also brings finished jobs' outputs into being), then the handler runs; a dict it returns is
    sent as JSON. A plain (not async) handler runs on a worker thread: that is for work that
    takes long (generating text), so it never holds up other requests."""
    threaded = not inspect.iscoroutinefunction(handler)

    async def run(request: Request) -> Response:
        store: Store = request.app.state.store
        call = Call(request=request, store=store, now=0.0)
        if body == "json":
            call.body = await json_body(request)
        elif body == "form":
            assert form_limit is not None
            limit = form_limit.limit(store.limits)
            check_body_size(request, limit, form_limit.param)
            call.form = parse_multipart(
                request.headers.get("content-type", ""), await request.body()
            )
            for _, data in call.form.values():
                if len(data) > limit:
                    raise errors.too_large(limit, form_limit.param)
        call.now = store.sync()
        if threaded:
            result = await run_in_threadpool(handler, call)
        else:
            result = await handler(call)  # type: ignore[misc]
        return result if isinstance(result, Response) else JSONResponse(result)

    return Route(path, run, methods=[method])


# -- bodies -------------------------------------------------------------------------------------
class _AbsurdInteger:
    """An integer literal too long to be a real value; refused by `check_json` with its param."""

    def __init__(self, digits: str) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | _AbsurdInteger:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _AbsurdInteger(text)
    return int(text)


def parse_json(raw: bytes) -> Any:
    """Parse a JSON body; RecursionError and over-long integers become 400s, not crashes."""
    try:
        return json.loads(raw, parse_int=_parse_int)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.invalid_json() from None
    except RecursionError:
        raise errors.too_deep(MAX_JSON_DEPTH) from None


def check_json(value: Any) -> None:
    """Refuse what no parameter can hold, naming where it is: non-finite numbers, absurd integers,
    nesting deeper than MAX_JSON_DEPTH. Iterative, so depth costs no stack."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise errors.too_deep(MAX_JSON_DEPTH)
        if isinstance(item, dict):
            for key, child in item.items():
                stack.append((child, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(item, list):
            for i, child in enumerate(item):
                stack.append((child, f"{where}[{i}]", depth + 1))
        elif isinstance(item, float) and not math.isfinite(item):
            raise errors.not_finite(where)
        elif isinstance(item, _AbsurdInteger):
            shown = f"{item.digits[:12]}... ({len(item.digits.lstrip('-'))} digits)"
            raise errors.integer_above(where, 2**63 - 1, shown)


async def json_body(request: Request) -> dict[str, Any]:
    body = parse_json(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise errors.body_not_object()
    check_json(body)
    return body


def check_body_size(request: Request, limit: int, param: str) -> None:
    """Refuse an oversized body from its Content-Length, before reading it."""
    length = request.headers.get("content-length")
    # Multipart framing adds a few hundred bytes around the file itself.
    if length is not None and length.isdigit() and int(length) > limit + 64 * 1024:
        raise errors.too_large(limit, param)


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """form field name -> (filename or None, bytes). A small parser, to need no extra package."""
    boundary = ""
    for item in content_type.split(";")[1:]:
        name, _, value = item.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not content_type.lower().startswith("multipart/form-data") or not boundary:
        raise errors.not_multipart()
    fields: dict[str, tuple[str | None, bytes]] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for raw in body.split(delimiter)[1:]:
        if raw.startswith(b"--"):
            break
        head, sep, data = raw.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        field_name: str | None = None
        filename: str | None = None
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() != "content-disposition":
                continue
            for param in value.split(";")[1:]:
                pkey, _, pvalue = param.strip().partition("=")
                pvalue = pvalue.strip().strip('"')
                if pkey.lower() == "name":
                    field_name = pvalue
                elif pkey.lower() == "filename":
                    filename = pvalue
        if field_name is not None:
            fields[field_name] = (filename, data)
    return fields


# -- query strings and pages --------------------------------------------------------------------
def query_int(query: QueryParams, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if len(raw) > MAX_INT_DIGITS:
        raise errors.query_not_integer(name)
    try:
        value = int(raw)
    except ValueError:
        raise errors.query_not_integer(name) from None
    return errors.check_int_range(name, value, low, high)


def page(
    items: list[dict[str, Any]], after: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Cursor paging: the items after the one whose id is `after`, at most `limit` of them."""
    start = 0
    if after:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chunk = items[start : start + limit]
    return chunk, start + limit < len(items)
