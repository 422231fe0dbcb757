"""The API key and other credentials: checked before any request, redacted from all output.

One module so that the client (which sends the key), the `--debug` log and the error boundary
(which print what the SDK and the network said) agree on what a secret looks like.

Redaction covers every form a key takes in text: raw, stripped of the whitespace it was read with,
escaped (`repr`, JSON, `\\n`), percent-quoted, and partial (a run of 8 or more of its characters,
as when a message truncates it). It removes whole occurrences only: a key too short to be a real
one (the mock accepts `x`) is redacted only where it stands alone, so `next:` stays `next:`.
URLs lose their userinfo (`http://user:secret@host`) and the values of credential-looking query
parameters (`?api_key=...`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import quote

from ftctl.errors import UsageError

MASK = "***"

# Real keys are long (`sk-...`, Azure's 32 hex digits); shorter ones are test keys for the mock.
PLAUSIBLE_KEY_LENGTH = 8
# The API itself shows the first 8 characters of a rejected key ("sk-proj-****...abcd"): a key's
# prefix of this length is not secret, any longer run of it is.
_PUBLIC_PREFIX = 8

_KEY_CHARS = r"A-Za-z0-9_\-"
_TOKEN = re.compile(rf"[{_KEY_CHARS}]+")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s@'\"<>]+)@")
_CREDENTIAL_QUERY = re.compile(
    r"(?P<name>[?&;](?:[A-Za-z0-9_\-]*(?:key|token|secret|password|passwd|signature|sig|auth)"
    r"[A-Za-z0-9_\-]*)=)(?P<value>[^&#\s'\"<>]+)",
    re.IGNORECASE,
)


def clean_key(raw: str | None, *, name: str, warn: Callable[[str], None]) -> str | None:
    """The key (or another header value) to send: surrounding whitespace removed (and said so),
    refused with a UsageError if what is left has control characters or non-ASCII (HTTP headers
    cannot carry them)."""
    if raw is None:
        return None
    key = raw.strip()
    if key != raw:
        warn(f"note: removed whitespace around the value of {name}")
    if not key:
        return None
    for index, char in enumerate(key):
        if not char.isascii():
            raise UsageError(
                f"{name} has a non-ASCII character at position {index + 1}; it must be ASCII",
                hint=f"copy the value again from the provider's dashboard into {name}",
            )
        if not char.isprintable() or char.isspace():
            raise UsageError(
                f"{name} has a control or space character at position {index + 1}",
                hint=f"copy the value again, without line breaks, into {name}",
            )
    return key


@lru_cache(maxsize=16)
def _forms(secret: str) -> tuple[str, ...]:
    """Every spelling of the secret that text may hold, longest first."""
    bases = {secret, secret.strip()}
    forms: set[str] = set()
    for base in bases:
        if not base:
            continue
        forms.add(base)
        forms.add(repr(base)[1:-1])
        forms.add(json.dumps(base)[1:-1])
        forms.add(base.encode("unicode_escape").decode("ascii"))
        forms.add(quote(base, safe=""))
        forms.add(repr(base.encode("utf-8", "backslashreplace"))[2:-1])
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def _is_partial(token: str, key: str) -> bool:
    return (
        len(token) >= PLAUSIBLE_KEY_LENGTH
        and token in key
        and not (key.startswith(token) and len(token) <= _PUBLIC_PREFIX)
    )


def _redact_secret(text: str, secret: str) -> str:
    key = secret.strip()
    if len(key) >= PLAUSIBLE_KEY_LENGTH:
        for form in _forms(secret):
            if len(form) >= PLAUSIBLE_KEY_LENGTH:
                text = text.replace(form, MASK)
        return _TOKEN.sub(lambda m: MASK if _is_partial(m.group(0), key) else m.group(0), text)
    # A short key: only where it stands alone, never inside a word.
    pattern = rf"(?<![{_KEY_CHARS}])(?:{'|'.join(re.escape(f) for f in _forms(secret))})"
    return re.sub(pattern + rf"(?![{_KEY_CHARS}])", MASK, text)


def redact_urls(text: str) -> str:
    """Userinfo and credential-looking query values removed from every URL in text."""
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    return _CREDENTIAL_QUERY.sub(lambda m: f"{m.group('name')}{MASK}", text)


def redact(text: str, secrets: str | Iterable[str | None] | None) -> str:
    """Text safe to show: every form of each secret, and URL credentials, removed."""
    if isinstance(secrets, str) or secrets is None:
        secrets = [secrets]
    for secret in secrets:
        if secret and secret.strip():
            text = _redact_secret(text, secret)
    return redact_urls(text)
