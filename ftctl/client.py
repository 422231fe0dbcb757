"""The one place that builds the SDK client: ``openai.OpenAI``, or ``openai.AzureOpenAI`` when
settings chose Azure (see ftctl/settings.py).

The SDK is handed a plain ``httpx.Client`` (openai 3.x would otherwise use httpx2): the same
transport in production and in tests, where respx intercepts it, and one place to hang the
``--debug`` exchange log. ``openai`` is imported here, inside the function, so that ``--help`` and
other offline paths never pay for it.

Two things the SDK does silently are made visible and bounded here: its retry waits are capped at
`MAX_WAIT` seconds and announced when longer than a second, and a host name that does not resolve
fails at once instead of being retried.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from ftctl.errors import UsageError
from ftctl.secrets import clean_key, redact
from ftctl.settings import Settings

if TYPE_CHECKING:
    import openai

__all__ = ["MAX_WAIT", "build_client", "build_http_client", "redact", "wait_reason"]

_SECRET_HEADERS = frozenset({"authorization", "api-key", "openai-api-key", "cookie"})

MAX_WAIT = 60.0  # seconds: the longest ftctl sleeps before a retry, whatever Retry-After says
ANNOUNCE_WAITS_OVER = 1.0  # seconds: shorter waits pass silently

Warn = Callable[[str], None]


def _ignore(_text: str) -> None:
    pass


def wait_reason(response: Any) -> str:
    """Why a retry waits, in words: "rate limited (429)", "HTTP 503", "no answer"."""
    status = getattr(response, "status_code", None)
    if status == 429:
        return "rate limited (429)"
    return f"HTTP {status}" if status is not None else "no answer"


def announce_wait(warn: Warn, reason: str, seconds: float) -> None:
    if seconds > ANNOUNCE_WAITS_OVER:
        warn(f"{reason}: retrying in {seconds:.0f} s")


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


def unresolvable_host(exc: BaseException) -> bool:
    """True when the OS said the host name does not exist (not a temporary DNS failure): a
    gaierror in the chain or, where a wrapper dropped it, the errno text copied from it."""
    no_name = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror):
            return cause.errno in no_name
        if any(f"[Errno {code}]" in str(cause) for code in no_name):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class _FailFastTransport(httpx.HTTPTransport):
    """Turns "no such host" into the SDK's own error type, which the SDK raises without retrying:
    retrying cannot make a misspelt host resolve."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.ConnectError as exc:
            if not unresolvable_host(exc):
                raise
            import openai

            raise openai.APIConnectionError(
                message=f"cannot resolve the host name {request.url.host!r}",
                request=request,  # type: ignore[arg-type]  # httpx's, as the SDK holds at run time
            ) from exc


def build_http_client(settings: Settings, log: Callable[[str], None] | None = None) -> httpx.Client:
    hooks = _debug_hooks(log) if settings.debug and log is not None else {}
    return httpx.Client(
        timeout=settings.timeout,
        follow_redirects=True,
        event_hooks=hooks,
        transport=_FailFastTransport(),
    )


def _announcing(base: type[openai.OpenAI], warn: Warn) -> type[openai.OpenAI]:
    """`base` whose retry waits are capped at MAX_WAIT and announced (the SDK sleeps silently,
    up to two minutes on a Retry-After)."""
    import time

    class AnnouncingClient(base):  # type: ignore[valid-type,misc]
        def _sleep_for_retry(
            self, *, retries_taken: int, max_retries: int, options: Any, response: Any
        ) -> None:
            headers = response.headers if response is not None else None
            seconds = self._calculate_retry_timeout(max_retries - retries_taken, options, headers)
            seconds = min(MAX_WAIT, max(0.0, seconds))
            announce_wait(warn, wait_reason(response), seconds)
            time.sleep(seconds)

    return AnnouncingClient


def build_client(
    settings: Settings,
    *,
    log: Callable[[str], None] | None = None,
    warn: Warn | None = None,
    http_client: httpx.Client | None = None,
) -> openai.OpenAI:
    """The SDK client for the platform settings chose: ``openai.AzureOpenAI`` for Azure,
    ``openai.OpenAI`` otherwise. Raises UsageError when no usable key (or, on Azure, no endpoint
    or API version) is set; `warn` receives notes for the user (whitespace removed from the key,
    retry waits)."""
    warn = warn or _ignore
    settings.check_complete()
    api_key = clean_key(settings.api_key, name=settings.key_env, warn=warn)
    if not api_key:
        raise UsageError(f"no API key: set {settings.key_env}", hint=_no_key_hint(settings))
    import openai

    # The SDK accepts a plain httpx.Client at run time; its annotation names httpx2's.
    transport: Any = http_client or build_http_client(settings, log)
    if settings.is_azure:
        # _announcing is typed for OpenAI's constructor; AzureOpenAI's takes the Azure arguments.
        azure_type: Any = _announcing(openai.AzureOpenAI, warn)
        azure: openai.AzureOpenAI = azure_type(
            api_key=api_key,
            azure_endpoint=settings.base_url,
            api_version=settings.api_version,
            organization=settings.organization,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            http_client=transport,
        )
        return azure
    client_type = _announcing(openai.OpenAI, warn)
    return client_type(
        api_key=api_key,
        base_url=settings.base_url,
        # Header values too: a stray newline would otherwise surface as a "connection error".
        organization=clean_key(settings.organization, name="OPENAI_ORG_ID", warn=warn),
        project=clean_key(settings.project, name="OPENAI_PROJECT_ID", warn=warn),
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
