"""The one place that builds the OpenAI SDK client.

The SDK is handed a plain ``httpx.Client`` (openai 3.x would otherwise use httpx2): the same
transport in production and in tests, where respx intercepts it, and one place to hang the
``--debug`` exchange log. ``openai`` is imported here, inside the function, so that ``--help`` and
other offline paths never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from ftctl.errors import UsageError
from ftctl.settings import Settings

if TYPE_CHECKING:
    import openai

_SECRET_HEADERS = frozenset({"authorization", "api-key", "openai-api-key", "cookie"})


def redact(text: str, secret: str | None) -> str:
    """Remove a secret from text that may reach a terminal or a log."""
    if secret and secret in text:
        text = text.replace(secret, "***")
    return text


def _debug_hooks(log: Callable[[str], None]) -> dict[str, list[Callable[..., Any]]]:
    def on_request(request: httpx.Request) -> None:
        log(f"> {request.method} {request.url}")
        for name, value in request.headers.items():
            shown = "***" if name.lower() in _SECRET_HEADERS else value
            log(f"> {name}: {shown}")

    def on_response(response: httpx.Response) -> None:
        request_id = response.headers.get("x-request-id", "-")
        log(f"< {response.status_code} {response.request.url} (request id {request_id})")

    return {"request": [on_request], "response": [on_response]}


def build_http_client(settings: Settings, log: Callable[[str], None] | None = None) -> httpx.Client:
    hooks = _debug_hooks(log) if settings.debug and log is not None else {}
    return httpx.Client(timeout=settings.timeout, follow_redirects=True, event_hooks=hooks)


def build_client(
    settings: Settings,
    *,
    log: Callable[[str], None] | None = None,
    http_client: httpx.Client | None = None,
) -> openai.OpenAI:
    """An ``openai.OpenAI`` configured from settings. Raises UsageError when no key is set."""
    if not settings.api_key:
        raise UsageError(
            "no API key: set OPENAI_API_KEY",
            hint="to try ftctl offline, run `ftctl mock serve` and set "
            "OPENAI_BASE_URL=http://127.0.0.1:8089/v1 with any key",
        )
    import openai

    return openai.OpenAI(
        api_key=settings.api_key,
        base_url=settings.base_url,
        organization=settings.organization,
        project=settings.project,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        # The SDK accepts a plain httpx.Client at run time; its annotation names httpx2's.
        http_client=http_client or build_http_client(settings, log),  # type: ignore[arg-type]
    )
