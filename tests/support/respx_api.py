"""respx routes fed by the recorded responses in fixtures/api (layout: fixtures/README.md).

    api.route_fixture("GET", "/fine_tuning/jobs/ftjob-abc123", "jobs/succeeded")
    api.route_sequence("GET", "/fine_tuning/jobs/ftjob-abc123",
                       ["jobs/queued", "jobs/running", "jobs/succeeded"])
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page2",
                      params={"after": "ftjob-def456"})
    api.requests("POST", "/fine_tuning/jobs")[0]  -> the httpx.Request ftctl sent

Paths are relative to BASE_URL. Routes match in the order they were added, and a route with
`params` matches any request whose query contains them: add the specific route first.

Strict by design: a request no route matches, or a sequence asked for more responses than it has
(with repeat_last=False), is recorded in `api.unexpected` and fails the test at teardown, even if
the SDK turned the failure into a connection error that ftctl reported politely.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from email.parser import BytesParser
from email.policy import HTTP
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import respx
from respx.models import AllMockedAssertionError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
API_FIXTURES = FIXTURES / "api"
BASE_URL = "https://api.openai.com/v1"
FAKE_API_KEY = "sk-test-SECRET-123"

# What a sequence may hold: a fixture name, a ready response, or an exception to raise (a
# transport error such as httpx.ConnectError, or KeyboardInterrupt to simulate Ctrl-C).
SequenceItem = str | httpx.Response | BaseException | type[BaseException]


def fixture_names() -> list[str]:
    """Every fixture, by name (`jobs/succeeded`), sorted."""
    return sorted(p.relative_to(API_FIXTURES).with_suffix("").as_posix() for p in _files())


def _files() -> list[Path]:
    return list(API_FIXTURES.rglob("*.json"))


@cache
def _load(name: str) -> dict[str, Any]:
    path = API_FIXTURES / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no fixture {name!r} ({path}); see fixtures/README.md")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_fixture(name: str) -> dict[str, Any]:
    """{"status", "headers", "json" | "text"} of a fixture (a fresh copy: mutate freely)."""
    return copy.deepcopy(_load(name))


def fixture_json(name: str) -> Any:
    """The JSON body of a fixture."""
    return load_fixture(name)["json"]


def fixture_response(
    name: str,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
) -> httpx.Response:
    """An httpx.Response carrying the fixture's status, headers and body, byte for byte as
    stored (optionally overridden)."""
    fixture = load_fixture(name)
    all_headers = {**fixture["headers"], **(headers or {})}
    if json_body is not None:
        content = json.dumps(json_body).encode()
    elif "json" in fixture:
        content = json.dumps(fixture["json"], ensure_ascii=False).encode()
    else:
        content = fixture["text"].encode()
    return httpx.Response(
        status if status is not None else fixture["status"], headers=all_headers, content=content
    )


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """An ad-hoc JSON response (prefer a fixture)."""
    all_headers = {
        "content-type": "application/json",
        "x-request-id": "req_adhoc",
        **(headers or {}),
    }
    return httpx.Response(status, headers=all_headers, content=json.dumps(body).encode())


def request_json(request: httpx.Request) -> Any:
    """The JSON body ftctl sent."""
    return json.loads(request.content)


def request_multipart(request: httpx.Request) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body as {field: (filename or None, content)}."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data"), content_type
    raw = f"content-type: {content_type}\r\n\r\n".encode() + request.content
    message = BytesParser(policy=HTTP).parsebytes(raw)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


class Api:
    """A respx router for the OpenAI API plus helpers to route fixtures and read requests."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.unexpected: list[str] = []
        resolve = router.resolve

        def strict_resolve(request: httpx.Request) -> Any:
            try:
                return resolve(request)
            except AllMockedAssertionError:
                self.unexpected.append(f"{request.method} {request.url} (no route)")
                raise

        router.resolve = strict_resolve  # type: ignore[method-assign]

    # -- routes --------------------------------------------------------------------------------
    def _route(
        self, method: str, path: str, params: Mapping[str, str] | None, name: str | None
    ) -> respx.Route:
        kwargs: dict[str, Any] = {"method": method.upper(), "path": path}
        if params is not None:
            kwargs["params"] = dict(params)
        return self.router.route(name=name, **kwargs)

    def route_fixture(
        self,
        method: str,
        path: str,
        fixture: str,
        *,
        params: Mapping[str, str] | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> respx.Route:
        """Answer method+path (relative to BASE_URL) with a fixture, every time."""
        load_fixture(fixture)  # fail now, not inside the SDK, on a typo
        route = self._route(method, path, params, name)
        route.side_effect = lambda request: fixture_response(
            fixture, status=status, headers=headers
        )
        return route

    def route_response(
        self,
        method: str,
        path: str,
        response: httpx.Response | Callable[[httpx.Request], httpx.Response],
        *,
        params: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> respx.Route:
        route = self._route(method, path, params, name)
        if callable(response):
            route.side_effect = response
        else:
            route.side_effect = lambda request: _copy(response)
        return route

    def route_sequence(
        self,
        method: str,
        path: str,
        items: Sequence[SequenceItem],
        *,
        params: Mapping[str, str] | None = None,
        repeat_last: bool = True,
        name: str | None = None,
    ) -> respx.Route:
        """Answer successive calls with successive items (polling: queued -> running -> ...).

        When the items run out, the last is repeated (repeat_last) or the call is unexpected."""
        for item in items:
            if isinstance(item, str):
                load_fixture(item)
        remaining = list(items)
        last: list[SequenceItem] = []
        route = self._route(method, path, params, name)

        def respond(request: httpx.Request) -> httpx.Response:
            if remaining:
                item = remaining.pop(0)
                last[:] = [item]
            elif repeat_last and last:
                item = last[0]
            else:
                self.unexpected.append(f"{request.method} {request.url} (sequence exhausted)")
                raise AssertionError(f"sequence for {method} {path} exhausted")
            return _materialize(item, request)

        route.side_effect = respond
        return route

    def route_model_lookups(self, missing: Sequence[str] = ()) -> respx.Route:
        """Answer GET /models/{id} for any id with the model object (`models/base`, its id
        replaced), or the recorded 404 for the ids in `missing`: what `create` asks first."""

        def answer(request: httpx.Request) -> httpx.Response:
            model_id = unquote(request.url.path.rsplit("/", 1)[1])
            if model_id in missing:
                return fixture_response("errors/model_not_found")
            body = {**fixture_json("models/base"), "id": model_id}
            return fixture_response("models/base", json_body=body)

        route = self.router.route(method="GET", path__regex=r"/models/[^/]+$")
        route.side_effect = answer
        return route

    # -- what was sent -------------------------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        """Requests ftctl sent that a route answered, oldest first, optionally filtered."""
        full = f"{httpx.URL(BASE_URL).path.rstrip('/')}{path}" if path is not None else None
        return [
            call.request
            for call in self.router.calls
            if (method is None or call.request.method == method.upper())
            and (full is None or call.request.url.path == full)
        ]

    def request(self, method: str, path: str) -> httpx.Request:
        """The one request sent to method+path (fails if there were none or several)."""
        found = self.requests(method, path)
        assert len(found) == 1, f"expected one {method} {path}, saw {len(found)}: {self.summary()}"
        return found[0]

    def summary(self) -> list[str]:
        """`METHOD path?query` of every answered request, for assertion messages."""
        return [
            f"{c.request.method} {c.request.url.path}"
            + (f"?{c.request.url.query.decode()}" if c.request.url.query else "")
            for c in self.router.calls
        ]

    def assert_no_requests(self) -> None:
        assert not self.router.calls and not self.unexpected, (
            f"expected no HTTP request, saw {self.summary() + self.unexpected}"
        )


def _copy(response: httpx.Response) -> httpx.Response:
    return httpx.Response(response.status_code, headers=response.headers, content=response.content)


def _materialize(item: SequenceItem, request: httpx.Request) -> httpx.Response:
    if isinstance(item, str):
        return fixture_response(item)
    if isinstance(item, httpx.Response):
        return _copy(item)
    if isinstance(item, type):
        if issubclass(item, httpx.TransportError):
            raise item("simulated transport failure", request=request)
        raise item()
    if isinstance(item, httpx.RequestError) and not item._request:
        item.request = request
    raise item
