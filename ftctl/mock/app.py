"""The mock service as a Starlette app: files, uploads, fine-tuning jobs, models, completions.

The split follows moto's: thin handlers in `routes/` (one module per resource) read parameters
and render; the state and the service's rules live in `store.Store`; every error text lives in
`errors`. A new resource is a module with a `ROUTES` list, added to `_ROUTE_MODULES` below.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ftctl.mock import errors, permissions
from ftctl.mock.azure import AzureShape
from ftctl.mock.errors import APIError
from ftctl.mock.http import RAW_SEND, Envelope, Faults, error_response, log
from ftctl.mock.routes import files, graders, jobs, models, sampling, uploads
from ftctl.mock.store import Limits, Store

_ROUTE_MODULES = (models, files, uploads, jobs, sampling, graders, permissions)


def routes() -> list[Route]:
    return [route for module in _ROUTE_MODULES for route in module.ROUTES]


class MockApp(Starlette):
    """Starlette, plus the server's own `send` in the scope: dropping a connection on purpose
    (fault injection) needs the connection, which middleware never sees."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[RAW_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(
    speed: float = 1.0,
    seed: int = 0,
    org: str = "personal",
    clock: Callable[[], float] = time.time,
    limits: Limits | None = None,
    *,
    state: Path | None = None,
    salt: str = "",
    faults: Faults | None = None,
    api_key: str | None = None,
    admin_keys_only: bool = False,
) -> MockApp:
    """A fresh service. `clock` is injectable so tests can step time; `state` is a directory to
    keep everything in across restarts; `salt` is mixed into ids (see `Store`); `faults` injects
    failures; `api_key`, when given, is the only key accepted.

    `org` is the organization's name as it appears in `ft:` model names (`personal` for a
    personal account, as the service names it); its `org-...` id is seeded. `admin_keys_only`
    makes checkpoint permissions refuse keys that are not `sk-admin-...`. The app serves Azure
    OpenAI's `/openai/...` shape beside OpenAI's `/v1/...` (see `azure`)."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    store = Store(
        speed=speed, seed=seed, org=org, clock=clock, limits=limits, state=state, salt=salt
    )

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        # The service answers unknown paths and unsupported methods alike: 404 "Invalid URL".
        assert isinstance(exc, HTTPException)
        if exc.status_code in (404, 405):
            return error_response(errors.invalid_url(request.method, request.url.path))
        return error_response(errors.http_error(exc.status_code, str(exc.detail)))

    async def on_crash(request: Request, exc: Exception) -> Response:
        # A 500 is a bug in the mock, never the client's doing: say where, on the server's log.
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(errors.server_error())

    app = MockApp(
        routes=routes(),
        middleware=[
            Middleware(AzureShape, store=store),
            Middleware(Envelope, store=store, faults=faults, api_key=api_key),
        ],
        exception_handlers={
            APIError: on_api_error,
            HTTPException: on_http_error,
            Exception: on_crash,
        },
    )
    app.state.store = store
    app.state.permissions = permissions.PermissionBook(store, admin_keys_only=admin_keys_only)
    return app
