"""What the mock's models say. A tune answers with the learned completion of the closest training
prompt (an exact match first) and, like a lightly tuned base model, keeps going with more learned
text until `max_tokens`, so `stop` matters. Base models answer with fixed, prompt-seeded text.
Token counts use the model's real encoding."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

_BASE_SENTENCES = (
    " This reply comes from the ftctl mock server, which runs without a network.",
    " A base model here answers with fixed text chosen by the prompt.",
    " Fine-tune a model on your own examples to hear them echoed back.",
    " Every answer is deterministic, so tests and demos can rely on it.",
    " Token counts use the same encoding as the real model.",
    " Set max_tokens to bound the reply, or a stop sequence to end it early.",
)

_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _similarity(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _stable_index(text: str, size: int) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % size


def closest(pairs: Sequence[tuple[str, str]], prompt: str) -> int:
    """Index of the training example whose prompt best matches: exact, then stripped, then words."""
    for i, (p, _) in enumerate(pairs):
        if p == prompt:
            return i
    stripped = prompt.strip()
    for i, (p, _) in enumerate(pairs):
        if p.strip() == stripped:
            return i
    words = _words(prompt)
    scores = [_similarity(words, _words(p)) for p, _ in pairs]
    best = max(scores)
    if best == 0.0:
        return _stable_index(prompt, len(pairs))
    return scores.index(best)


def learned_text(pairs: Sequence[tuple[str, str]], prompt: str) -> Iterator[str]:
    """The learned answer, then further learned answers, most alike first, without end."""
    first = closest(pairs, prompt)
    yield pairs[first][1]
    anchor = _words(pairs[first][1])
    rest = sorted(
        (i for i in range(len(pairs)) if i != first),
        key=lambda i: (-_similarity(anchor, _words(pairs[i][1])), i),
    )
    while True:
        for i in rest or [first]:
            text = pairs[i][1]
            yield text if text[:1].isspace() else " " + text


def base_text(prompt: str) -> Iterator[str]:
    start = _stable_index(prompt, len(_BASE_SENTENCES))
    i = start
    while True:
        yield _BASE_SENTENCES[i % len(_BASE_SENTENCES)]
        i += 1


@dataclass(frozen=True)
class Choice:
    text: str
    finish_reason: str
    tokens: list[int]


def generate(
    pieces: Iterator[str],
    *,
    enc: Any,
    max_tokens: int | None,
    stop: Sequence[str],
    natural_pieces: int | None,
) -> Choice:
    """Join pieces until there is enough text, then apply max_tokens and stop as the service does.

    natural_pieces: how many pieces make a complete answer (a chat turn ends after its one
    learned reply); None means the text runs on until max_tokens, as a completion model does.
    """
    budget = max_tokens if max_tokens is not None else 4096
    parts: list[str] = []
    counted = 0  # tokens of the pieces one by one: linear, and never fewer than the joined text
    natural_end = False
    for count, piece in enumerate(pieces, 1):
        parts.append(piece)
        counted += len(enc.encode_ordinary(piece))
        if natural_pieces is not None and count >= natural_pieces:
            natural_end = True
            break
        if counted > budget + 8:  # pieces join into at most a few fewer tokens than they count
            break
    text = "".join(parts)
    tokens = enc.encode_ordinary(text)
    truncated = max_tokens is not None and len(tokens) > max_tokens
    if truncated:
        text = enc.decode(tokens[:max_tokens])
    cuts = [text.find(s) for s in stop if s and s in text]
    if cuts:
        text = text[: min(cuts)]
        reason = "stop"
    elif truncated:
        reason = "length"
    else:
        reason = "stop" if natural_end else "length"
    return Choice(text=text, finish_reason=reason, tokens=enc.encode_ordinary(text))


def token_pieces(choice: Choice, enc: Any) -> list[str]:
    """The text split at token boundaries, as a stream sends it (multi-byte runs kept whole)."""
    pieces: list[str] = []
    pending = b""
    for token in choice.tokens:
        pending += enc.decode_single_token_bytes(token)
        try:
            pieces.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError:
            continue
    if pending:
        pieces.append(pending.decode("utf-8", errors="replace"))
    return pieces


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""
