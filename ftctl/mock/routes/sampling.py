"""/v1/completions and /v1/chat/completions: answers from the base models and your tunes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from ftctl.mock import completions as gen
from ftctl.mock import errors, params
from ftctl.mock.catalog import BaseModel, snapshot_of
from ftctl.mock.http import Call, endpoint
from ftctl.mock.records import digest
from ftctl.models import training_limit
from ftctl.tokens import chat_tokens

# Model families that reason (and so take `reasoning_effort`).
REASONING_FAMILIES = ("o1", "o3", "o4", "gpt-5")


def completion(call: Call) -> Response:
    body, now = call.body, call.now
    name = params.required_string(body, "model")
    base, tuned = call.store.sampling_model(name, now)
    if base.chat:
        raise errors.chat_model_on_completions()
    req = gen.parse_completion(body)
    if body.get("max_tokens") is not None:
        _max_tokens("max_tokens", body["max_tokens"], 0, base)
    from ftctl.tokens import encoding_for_model

    enc = encoding_for_model(base.id)
    key = _short(call)
    choices, usage = gen.completion_choices(
        req, _prompts(body["prompt"], enc), pairs=tuned.pairs if tuned else None, enc=enc, key=key
    )
    head = {
        "id": "cmpl-" + key,
        "object": "text_completion",
        "created": int(now),
        "model": tuned.id if tuned else snapshot_of(base),
    }
    limits = call.store.rates.headers(now, usage["total_tokens"])
    if not req.stream:
        return JSONResponse(gen.completion_body(head, choices, usage), headers=limits)
    chunks = gen.completion_chunks(head, choices, usage, include_usage=req.include_usage)
    return _sse(chunks, limits)


def chat_completion(call: Call) -> Response:
    body, now = call.body, call.now
    name = params.required_string(body, "model")
    base, tuned = call.store.sampling_model(name, now)
    if not base.chat:
        raise errors.completion_model_on_chat()
    req = gen.parse_chat(body, reasoning=base.id.startswith(REASONING_FAMILIES))
    if req.max_tokens is not None:
        limit_name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        _max_tokens(limit_name, req.max_tokens, 1, base)
    from ftctl.tokens import encoding_for_model

    enc = encoding_for_model(base.id)
    key = _short(call)
    choices = gen.chat_choices(req, pairs=tuned.pairs if tuned else None, enc=enc, key=key)
    usage = gen.chat_usage(chat_tokens(req.messages, enc), choices)
    model = tuned.id if tuned else snapshot_of(base)
    head = {
        "id": "chatcmpl-" + key,
        "created": int(now),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": gen.system_fingerprint(model),
    }
    limits = call.store.rates.headers(now, usage["total_tokens"])
    if not req.stream:
        return JSONResponse(gen.chat_body(head, choices, usage), headers=limits)
    chunks = gen.chat_chunks(head, choices, usage, include_usage=req.include_usage, enc=enc)
    return _sse(chunks, limits)


def _short(call: Call) -> str:
    """A completion id derived from the request id, so it is stable for a given seed."""
    request_id = getattr(call.request.state, "request_id", "")
    return digest(f"{call.store.seed}:{request_id}", 29)


def _max_tokens(name: str, value: object, low: int, base: BaseModel) -> int:
    """A completion budget, capped at the model's context so generation cost stays bounded."""
    high = training_limit(base.id)
    if isinstance(value, int) and not isinstance(value, bool) and value > high:
        raise errors.max_tokens_too_large(name, value, high)
    return params.integer(name, value, low, high)


def _decode(enc: Any, tokens: list[int]) -> str:
    for token in tokens:
        if token < 0 or token >= enc.n_vocab:
            raise errors.token_out_of_range("prompt", token, enc.n_vocab)
    try:
        return str(enc.decode(tokens))
    except (KeyError, ValueError, OverflowError):  # an id in one of the vocabulary's gaps
        bad = next(t for t in tokens if not _known(enc, t))
        raise errors.token_out_of_range("prompt", bad, enc.n_vocab) from None


def _known(enc: Any, token: int) -> bool:
    try:
        enc.decode_single_token_bytes(token)
    except (KeyError, ValueError, OverflowError):
        return False
    return True


def _prompts(raw: object, enc: Any) -> list[str]:
    """`prompt` as the API takes it: a string, strings, token ids, or lists of token ids."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(p, str) for p in raw):
            return [str(p) for p in raw]
        if all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
            return [_decode(enc, raw)]
        if all(isinstance(p, list) and all(isinstance(t, int) for t in p) for p in raw):
            return [_decode(enc, p) for p in raw]
    raise errors.invalid_type("prompt", "a string, an array of strings or an array of tokens", raw)


def _sse(chunks: Iterator[dict[str, Any]], headers: dict[str, str]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"cache-control": "no-cache", **headers}
    )


LONG_GENERATION_TOKENS = 1024  # beyond this many tokens to write, a request runs on a thread


def _long(call: Call) -> bool:
    """Whether a request may generate more than LONG_GENERATION_TOKENS tokens in all."""
    body = call.body

    def number(value: object, default: int) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return default

    prompts = body.get("prompt")
    count = len(prompts) if isinstance(prompts, list) and prompts else 1
    if "messages" in body:  # a chat turn ends with its answer unless max_tokens is given
        count, budget = 1, number(body.get("max_completion_tokens", body.get("max_tokens")), 256)
    else:
        budget = number(body.get("max_tokens"), 16)
    return count * number(body.get("n"), 1) * budget > LONG_GENERATION_TOKENS


ROUTES = [
    endpoint("POST", "/v1/completions", completion, body="json", offload=_long),
    endpoint("POST", "/v1/chat/completions", chat_completion, body="json", offload=_long),
]
