"""Request plumbing shared by the routes: the envelope every response goes through (request id,
the service's headers, the bearer-key check, one log line), error responses, body parsing."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftctl.mock.errors import NO_KEY_MESSAGE, APIError, bad_request, check_int_range
from ftctl.mock.store import Store

log = logging.getLogger("ftctl.mock")

OPENAI_VERSION = "2020-10-01"


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
                headers["openai-organization"] = self.store.owner
                elapsed = int((time.perf_counter() - started) * 1000)
                headers["openai-processing-ms"] = str(elapsed)
            await send(message)

        auth = Headers(scope=scope).get("authorization", "")
        scheme, _, key = auth.partition(" ")
        try:
            if scheme.lower() != "bearer" or not key.strip():
                await error_response(APIError(401, NO_KEY_MESSAGE))(
                    scope, receive, send_with_headers
                )
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


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
            "what was sent was not valid JSON. If you have trouble figuring out how to fix this, "
            "please contact us through our help center at help.openai.com.)"
        ) from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def check_body_size(request: Request, limit: int, param: str) -> None:
    """Refuse an oversized body from its Content-Length, before reading it."""
    length = request.headers.get("content-length")
    # Multipart framing adds a few hundred bytes around the file itself.
    if length is not None and length.isdigit() and int(length) > limit + 64 * 1024:
        raise too_large(limit, param)


def too_large(limit: int, param: str) -> APIError:
    mb = limit / (1024 * 1024)
    size = f"{mb:.0f} MB" if mb >= 1 else f"{limit} bytes"
    return APIError(
        413,
        f"File is too large. The maximum size is {size}.",
        param=param,
        code="file_too_large",
    )


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """form field name -> (filename or None, bytes). A small parser, to need no extra package."""
    boundary = ""
    for item in content_type.split(";")[1:]:
        name, _, value = item.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not content_type.lower().startswith("multipart/form-data") or not boundary:
        raise bad_request("The request must be multipart/form-data.")
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


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise APIError(
            400, f"Invalid '{name}': expected an integer.", param=name, code="invalid_type"
        ) from None
    return check_int_range(name, value, low, high)


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


def empty(status: int = 200) -> Response:
    return Response(status_code=status)
