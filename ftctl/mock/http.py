"""Request plumbing shared by the routes: the envelope every response goes through (request id,
the service's headers, the bearer-key check, one log line), the route wrapper every handler is
registered with (clock read once, body parsed and checked), error responses, paging helpers."""

from __future__ import annotations

import asyncio
import fnmatch
import hmac
import inspect
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
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
MAX_JSON_BYTES = 32 * 1024 * 1024  # a JSON request body larger than this is a 413
MAX_INT_DIGITS = 30  # larger integers are refused before Python turns them into numbers


def error_response(exc: APIError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


@dataclass(frozen=True)
class Faults:
    """Injected failures, for demos and for testing clients against an unreliable service.

    fail_rate: share of requests answered at once with a 429 (with Retry-After), 500 or 503,
    before anything is done. drop_rate: share of requests that are carried out, and then the
    connection is dropped before the answer. routes: fnmatch patterns over "METHOD /path" or
    "/path" (empty: every route). The draws come from `seed`, in request order."""

    fail_rate: float = 0.0
    drop_rate: float = 0.0
    routes: tuple[str, ...] = ()
    seed: int = 0

    def applies(self, method: str, path: str) -> bool:
        if not self.routes:
            return True
        return any(
            fnmatch.fnmatchcase(f"{method} {path}", p) or fnmatch.fnmatchcase(path, p)
            for p in self.routes
        )


RAW_SEND = "ftctl.raw_send"  # scope key: the server's own `send`, which knows the connection


class Envelope:
    """Pure ASGI middleware, so streamed bodies pass through untouched: the request id and the
    service's headers on every answer, the key check, injected faults, one log line."""

    def __init__(
        self, app: ASGIApp, store: Store, faults: Faults | None, api_key: str | None
    ) -> None:
        self.app = app
        self.store = store
        self.faults = faults
        self._fault_rng = random.Random(f"faults:{faults.seed}") if faults else None
        self.api_key = api_key

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
                headers["openai-organization"] = self.store.owner
                elapsed = int((time.perf_counter() - started) * 1000)
                headers["openai-processing-ms"] = str(elapsed)
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send_with_headers)
            elif self._drop(scope):
                status = 0  # logged as dropped
                await self._run_and_drop(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            client = scope.get("client") or ("-", 0)
            query = scope.get("query_string", b"").decode("latin-1")
            path = scope["path"] + (f"?{query}" if query else "")
            log.info(
                '%s "%s %s" %s %.0fms %s',
                client[0],
                scope["method"],
                path,
                status or "dropped",
                elapsed_ms,
                request_id,
            )

    def _refusal(self, scope: Scope) -> APIError | None:
        """The error to answer with before doing anything: no key, a wrong key, or a fault."""
        auth = Headers(scope=scope).get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return errors.no_api_key()
        if self.api_key is not None and not hmac.compare_digest(
            key.strip().encode(), self.api_key.encode()
        ):
            return errors.invalid_api_key()
        faults, rng = self.faults, self._fault_rng
        if faults is None or rng is None or not faults.fail_rate:
            return None
        if not faults.applies(scope["method"], scope["path"]) or rng.random() >= faults.fail_rate:
            return None
        kind = rng.choice((429, 500, 503))
        if kind == 429:
            return errors.too_many_requests(retry_after=1)
        return errors.server_error() if kind == 500 else errors.overloaded()

    def _drop(self, scope: Scope) -> bool:
        faults, rng = self.faults, self._fault_rng
        if faults is None or rng is None or not faults.drop_rate:
            return False
        return faults.applies(scope["method"], scope["path"]) and rng.random() < faults.drop_rate

    async def _run_and_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Do the work, keep the answer, and close the connection instead of sending it."""

        async def swallow(message: Message) -> None:
            return

        await self.app(scope, receive, swallow)
        transport = getattr(getattr(scope.get(RAW_SEND), "__self__", None), "transport", None)
        if transport is None:  # not under uvicorn: the closest thing is a broken answer
            raise ConnectionAbortedError("fault injection: connection dropped")
        transport.abort()
        # Let the server see the connection go, so it does not try to answer on it.
        await asyncio.sleep(0)
        await asyncio.sleep(0)


# -- the route wrapper --------------------------------------------------------------------------
@dataclass
class Call:
    """One request as a handler sees it: the store, the clock read once, the parsed body."""

    request: Request
    store: Store
    now: float
    body: dict[str, Any] = field(default_factory=dict)
    form: dict[str, FormField] = field(default_factory=dict)

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
    offload: Callable[[Call], bool] | None = None,
) -> Route:
    """Register `handler`: the body is read and checked first, then the clock is read once (which
    also brings finished jobs' outputs into being), then the handler runs; a dict it returns is
    sent as JSON. A plain (not async) handler runs on a worker thread when `offload(call)`
    says the work is long (a long generation), so it never holds up other requests; short work
    runs inline, since handing a request to a thread costs more than most answers."""
    threaded = not inspect.iscoroutinefunction(handler)

    async def run(request: Request) -> Response:
        store: Store = request.app.state.store
        call = Call(request=request, store=store, now=0.0)
        reader: FormReader | None = None
        if body == "json":
            call.body = await json_body(request)
        elif body == "form":
            assert form_limit is not None
            limit = form_limit.limit(store.limits)
            reader = await read_form(request, store.spool_path, limit, form_limit.param)
            call.form = reader.fields
        try:
            call.now = store.sync()
            if threaded and (offload is None or offload(call)):
                result = await run_in_threadpool(handler, call)
            elif threaded:
                result = handler(call)
            else:
                result = await handler(call)  # type: ignore[misc]
        finally:
            if reader is not None:
                reader.discard()  # what the handler kept, it has moved away
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
    check_body_size(request, MAX_JSON_BYTES, "body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # bounded as it arrives, whatever Content-Length says
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            raise errors.body_too_large(MAX_JSON_BYTES)
        chunks.append(chunk)
    body = parse_json(b"".join(chunks) or b"{}")
    if not isinstance(body, dict):
        raise errors.body_not_object()
    check_json(body)
    return body


def check_body_size(request: Request, limit: int, param: str) -> None:
    """Refuse an oversized body from its Content-Length, before reading it."""
    length = request.headers.get("content-length")
    # Multipart framing adds a few hundred bytes around the file itself.
    if length is not None and length.isdigit() and int(length) > limit + 64 * 1024:
        raise errors.body_too_large(limit) if param == "body" else errors.too_large(limit, param)


MEMORY_FIELD_BYTES = 64 * 1024  # a form field larger than this goes to disk as it arrives


@dataclass
class FormField:
    """One multipart field: small ones in memory, files and large ones in a file on disk."""

    filename: str | None
    data: bytes = b""
    path: Path | None = None
    size: int = 0

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def read(self) -> bytes:
        return self.path.read_bytes() if self.path is not None else self.data


class FormReader:
    """A streaming multipart/form-data reader (python-multipart's parser underneath): memory
    stays at a chunk or two whatever the body's size, and a body over `limit` stops at once."""

    def __init__(self, content_type: str, spool: Callable[[], Path], limit: int, param: str):
        media, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if media != b"multipart/form-data" or not boundary:
            raise errors.not_multipart()
        self.fields: dict[str, FormField] = {}
        self._spool = spool
        self._limit = limit
        self._param = param
        self._headers: dict[bytes, bytes] = {}
        self._header = b""
        self._value = b""
        self._current: FormField | None = None
        self._name = ""
        self._file: BinaryIO | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    def _begin(self) -> None:
        self._headers = {}
        self._header = self._value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header.lower()] = self._value
        self._header = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", errors="replace")
        filename = options.get(b"filename")
        self._current = FormField(
            filename=None if filename is None else filename.decode("utf-8", errors="replace")
        )
        if filename is not None:
            self._to_disk()

    def _to_disk(self) -> None:
        assert self._current is not None
        self._current.path = self._spool()
        self._file = self._current.path.open("wb")
        self._file.write(self._current.data)
        self._current.data = b""

    def _data(self, data: bytes, start: int, end: int) -> None:
        field = self._current
        if field is None:
            return
        field.size += end - start
        if field.size > self._limit:
            raise errors.too_large(self._limit, self._param)
        if self._file is None and field.size > MEMORY_FIELD_BYTES:
            self._to_disk()
        if self._file is not None:
            self._file.write(data[start:end])
        else:
            field.data += data[start:end]

    def _end(self) -> None:
        self._close_file()
        if self._current is not None and self._name:
            self.fields[self._name] = self._current
        self._current = None

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, chunk: bytes) -> None:
        self._parser.write(chunk)

    def finish(self) -> dict[str, FormField]:
        self._parser.finalize()
        return self.fields

    def discard(self) -> None:
        """Remove what reached the disk (on any failure, and for fields the handler left)."""
        self._close_file()
        for item in [*self.fields.values(), self._current]:
            if item is not None and item.path is not None:
                item.path.unlink(missing_ok=True)


async def read_form(
    request: Request, spool: Callable[[], Path], limit: int, param: str
) -> FormReader:
    check_body_size(request, limit, param)
    reader = FormReader(request.headers.get("content-type", ""), spool, limit, param)
    try:
        async for chunk in request.stream():
            reader.write(chunk)
        reader.finish()
    except APIError:
        reader.discard()
        raise
    except FormParserError:
        reader.discard()
        raise errors.not_multipart() from None
    return reader


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
