"""Azure OpenAI's data-plane shape over the same handlers: `/openai/...` paths with a required
`api-version` query, the `api-key` header, deployments in the path for inference.

    /openai/fine_tuning/jobs?api-version=2025-04-01-preview    ->  /v1/fine_tuning/jobs
    /openai/deployments/{name}/chat/completions?api-version=…  ->  /v1/chat/completions, model=name
    /openai/v1/fine_tuning/jobs                                ->  /v1/fine_tuning/jobs (v1 surface)

This is what the SDK's `AzureOpenAI(azure_endpoint=..., api_key=..., api_version=...)` sends. A
deployment's name is the model it serves (the mock deploys every base model and live tune under
its own name); any other name gets Azure's `DeploymentNotFound`.
Errors raised before the request reaches a handler use Azure's bodies, `{"error": {"code",
"message"}}`; past that point the handlers answer as OpenAI's service does, which is what Azure's
fine-tuning API returns for its own objects.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftctl.mock.errors import APIError
from ftctl.mock.store import Store

PREFIX = "/openai/"

# Data-plane versions Azure documents for fine-tuning and inference (GA, then previews).
API_VERSIONS = frozenset(
    {
        "2024-02-01",
        "2024-06-01",
        "2024-10-21",
        "2024-08-01-preview",
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-02-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
# The v1 surface takes no dated version; these two values are accepted for it.
V1_VERSIONS = frozenset({"preview", "latest"})
DEPLOYMENT_ROUTES = frozenset({"chat/completions", "completions"})

ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)


def azure_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


DEPLOYMENT_NOT_FOUND = (
    "The API deployment for this resource does not exist. If you created the deployment within "
    "the last 5 minutes, please wait a moment and try again."
)


def resource_not_found() -> JSONResponse:
    # What Azure answers for a path it does not serve, and for a missing api-version.
    return azure_error(404, "404", "Resource not found")


class AzureShape:
    """Pure ASGI middleware: checks and rewrites Azure-shaped requests, passes others through."""

    def __init__(self, app: ASGIApp, store: Store | None = None) -> None:
        self.app = app
        self.store = store  # to tell a deployment that does not exist (no model by that name)

    def _deployed(self, name: str) -> bool:
        if self.store is None:
            return True
        try:
            self.store.sampling_model(name, self.store.clock())
        except APIError:
            return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        version = next((v for k, v in query if k == "api-version"), None)
        rest = path[len(PREFIX) :]
        is_v1 = rest.startswith("v1/")
        if is_v1:
            rest = rest[3:]
            if version is not None and version not in V1_VERSIONS:
                await azure_error(400, "BadRequest", "API version not supported")(
                    scope, receive, send
                )
                return
        elif version is None:
            await resource_not_found()(scope, receive, send)
            return
        elif version not in API_VERSIONS:
            await azure_error(400, "BadRequest", "API version not supported")(scope, receive, send)
            return

        headers = Headers(scope=scope)
        key = headers.get("api-key")
        bearer = headers.get("authorization", "")
        if not (key and key.strip()) and not bearer.lower().startswith("bearer "):
            await azure_error(401, "401", ACCESS_DENIED)(scope, receive, send)
            return

        deployment = None
        if rest.startswith("deployments/"):
            name, _, route = rest[len("deployments/") :].partition("/")
            if not name or route not in DEPLOYMENT_ROUTES:
                await resource_not_found()(scope, receive, send)
                return
            deployment, rest = name, route
            if not self._deployed(deployment):
                await azure_error(404, "DeploymentNotFound", DEPLOYMENT_NOT_FOUND)(
                    scope, receive, send
                )
                return

        inner = dict(scope)
        inner["path"] = "/v1/" + rest
        inner["raw_path"] = inner["path"].encode()
        inner["query_string"] = urlencode([(k, v) for k, v in query if k != "api-version"]).encode()
        raw_headers = [
            (k, v) for k, v in scope["headers"] if k.lower() not in (b"api-key", b"authorization")
        ]
        token = key.strip() if key else bearer.partition(" ")[2].strip()
        raw_headers.append((b"authorization", b"Bearer " + token.encode("latin-1")))
        inner["headers"] = raw_headers
        request_id = str(uuid.uuid4())

        async def send_azure(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["apim-request-id"] = request_id
                out["x-ms-region"] = "Sweden Central"
            await send(message)

        if deployment is None:
            await self.app(inner, receive, send_azure)
            return
        body = await _read_body(receive)
        try:
            payload = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            payload = None
        if isinstance(payload, dict):
            payload["model"] = deployment  # the deployment decides the model, not the body
            body = json.dumps(payload).encode()
        inner["headers"] = [(k, v) for k, v in raw_headers if k.lower() != b"content-length"]
        inner["headers"].append((b"content-length", str(len(body)).encode()))
        await self.app(inner, _replay(body, receive), send_azure)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The rewritten body once, then the client's own messages (a disconnect, when it comes):
    a streamed answer must not see a disconnect that did not happen."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
