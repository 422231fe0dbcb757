"""The one place that builds the SDK client: ``openai.OpenAI``, or ``openai.AzureOpenAI`` when
settings chose Azure (see ftctl/settings.py).

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
    """The SDK client for the platform settings chose: ``openai.AzureOpenAI`` for Azure,
    ``openai.OpenAI`` otherwise. Raises UsageError when no key (or, on Azure, no endpoint or API
    version) is set."""
    settings.check_complete()
    if not settings.api_key:
        raise UsageError(f"no API key: set {settings.key_env}", hint=_no_key_hint(settings))
    import openai

    # The SDK accepts a plain httpx.Client at run time; its annotation names httpx2's.
    transport: Any = http_client or build_http_client(settings, log)
    if settings.is_azure:
        return openai.AzureOpenAI(
            api_key=settings.api_key,
            azure_endpoint=settings.base_url,
            api_version=settings.api_version,
            organization=settings.organization,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            http_client=transport,
        )
    return openai.OpenAI(
        api_key=settings.api_key,
        base_url=settings.base_url,
        organization=settings.organization,
        project=settings.project,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        http_client=transport,
    )


def _no_key_hint(settings: Settings) -> str:
    if settings.is_azure:
        return f"export {settings.key_env}=... (a key of the Azure OpenAI resource)"
    return (
        "to try ftctl offline, run `ftctl mock serve` and set "
        "OPENAI_BASE_URL=http://127.0.0.1:8089/v1 with any key"
    )
