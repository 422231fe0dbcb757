"""What a failed request means for a retry, shared by the jobs and files services: worth
retrying at all (transient), certainly not acted on (safe to send again), and how long to wait."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from ftctl.client import MAX_WAIT, unresolvable_host

T = TypeVar("T")

LOOKUPS = 3  # tries of the lookup that settles an ambiguous create or upload

# Statuses for which a retry is safe and likely to help (the SDK's own list).
TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """Errors worth waiting out: the network, timeouts, 408/409/429/5xx; not a host name that
    does not resolve (waiting cannot fix a misspelt --base-url)."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return not unresolvable_host(exc)
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code in TRANSIENT_STATUS or exc.status_code >= 500
    )


def never_processed(exc: BaseException) -> bool:
    """A failure that certainly changed nothing on the service: a 429 (refused before any
    work), or a connection that was never made."""
    import httpx
    import openai

    if isinstance(exc, openai.RateLimitError):
        return True
    return type(exc) is openai.APIConnectionError and isinstance(exc.__cause__, httpx.ConnectError)


def retry_after_seconds(exc: BaseException, cap: float = MAX_WAIT) -> float | None:
    """The wait a response's Retry-After asks for, never more than `cap` (a server asking for
    999999 s or `inf` gets `cap`); None when it asks for nothing readable."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or math.isnan(seconds):
        return None
    return min(cap, max(0.0, seconds))


def backoff(attempt: int) -> float:
    """Seconds before attempt `attempt + 1` when the server asked for nothing."""
    return min(2.0**attempt, 30.0)


def settle(
    lookup: Callable[[], T],
    *,
    cause: BaseException,
    give_up: Callable[[Exception], Exception],
    retrying: str,
    notify: Callable[[str], None],
    sleep: Callable[[float], None],
) -> T:
    """The answer of `lookup`, the check that says whether a request that got no clear answer
    (`cause`) acted after all. A transient failure of the lookup is tried again after a backoff
    (saying `retrying`); when it cannot run, `give_up(error)` is raised, chained to `cause`."""
    for attempt in range(1, LOOKUPS + 1):
        try:
            return lookup()
        except Exception as exc:
            if attempt == LOOKUPS or not is_transient(exc):
                raise give_up(exc) from cause
            notify(f"{retrying}: trying again in {backoff(attempt):.0f} s")
            sleep(backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover
