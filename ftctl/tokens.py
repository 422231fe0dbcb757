"""Exact, offline token counts: tiktoken's own encoder over the BPE ranks bundled in bpe-openai.

tiktoken fetches its rank files over the network at run time. The bpe-openai wheel ships
`cl100k_base` and `o200k_base`; before use, each file's sha256 is checked against the hash tiktoken
itself pins, so the counts are tiktoken's, byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

# The sha256 values tiktoken_ext.openai_public checks for these files.
_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")


class TokenizerDataError(RuntimeError):
    """The bundled rank file is missing or does not match tiktoken's pinned hash."""


def encoding_name_for_model(model: str) -> str:
    """`o200k_base` for the gpt-4o / gpt-4.1 / o-series families, else `cl100k_base`."""
    base = model.split(":", 2)[1] if model.startswith("ft:") else model
    return "o200k_base" if base.startswith(_O200K_PREFIXES) else "cl100k_base"


def _ranks(name: str) -> dict[bytes, int]:
    import base64

    with resources.files("bpe_openai.data").joinpath(f"{name}.tiktoken.gz").open("rb") as fh:
        raw = gzip.decompress(fh.read())
    if hashlib.sha256(raw).hexdigest() != _EXPECTED_SHA256[name]:
        raise TokenizerDataError(f"bundled {name} ranks do not match tiktoken's sha256")
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """A tiktoken Encoding built offline. Raises KeyError for an unknown name."""
    import tiktoken
    from bpe_openai import registry

    if name not in _EXPECTED_SHA256:
        raise KeyError(name)
    spec = getattr(registry, name)()  # pattern and special tokens, as tiktoken defines them
    return tiktoken.Encoding(
        name=name,
        pat_str=spec["pat_str"],
        mergeable_ranks=_ranks(name),
        special_tokens=spec["special_tokens"],
    )


def encoding_for_model(model: str) -> tiktoken.Encoding:
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, model: str) -> int:
    """Tokens in text, special-token strings counted as ordinary text (as training data is)."""
    return len(encoding_for_model(model).encode_ordinary(text))


def chat_tokens(messages: Iterable[Mapping[str, Any]], encoding: tiktoken.Encoding) -> int:
    """The cookbook's count for chat messages: 3 tokens of framing per message, 1 more for a
    `name`, 3 to prime the reply; the role, name and text of the content are encoded."""
    total = 3
    for message in messages:
        total += 3
        for key in ("role", "content", "name"):
            value = message.get(key)
            if isinstance(value, str):
                total += len(encoding.encode_ordinary(value))
            elif key == "content" and isinstance(value, list):
                for part in value:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        total += len(encoding.encode_ordinary(part["text"]))
        if "name" in message:
            total += 1
    return total
