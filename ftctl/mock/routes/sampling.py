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


def _common(body: dict[str, Any]) -> tuple[int, list[str], bool, bool]:
    n = body.get("n")
    n = 1 if n is None else params.integer("n", n, 1, 128)
    stop = params.stop(body.get("stop"))
    stream = bool(body.get("stream") or False)
    options = body.get("stream_options") or {}
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    return n, stop, stream, include_usage


def completion(call: Call) -> Response:
    body, now = call.body, call.now
    name = params.required_string(body, "model")
    base, tuned = call.store.sampling_model(name, now)
    if base.chat:
        raise errors.chat_model_on_completions()
    if "prompt" not in body:
        raise errors.missing("prompt")
    from ftctl.tokens import encoding_for_model

    enc = encoding_for_model(base.id)
    prompts = _prompts(body["prompt"], enc)
    max_tokens = body.get("max_tokens")
    max_tokens = 16 if max_tokens is None else _max_tokens("max_tokens", max_tokens, 0, base)
    n, stop, stream, include_usage = _common(body)
    echo = bool(body.get("echo") or False)
    choices: list[tuple[str, str]] = []
    completion_tokens = prompt_tokens = 0
    for prompt in prompts:
        prompt_tokens += len(enc.encode_ordinary(prompt))
        for _ in range(n):
            pieces = gen.learned_text(tuned.pairs, prompt) if tuned else gen.base_text(prompt)
            choice = gen.generate(
                pieces, enc=enc, max_tokens=max_tokens, stop=stop, natural_pieces=None
            )
            completion_tokens += len(choice.tokens)
            text = (prompt + choice.text) if echo else choice.text
            choices.append((text, choice.finish_reason))
    model_name = tuned.id if tuned else snapshot_of(base)
    completion_id = "cmpl-" + _short(call)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    head = {
        "id": completion_id,
        "object": "text_completion",
        "created": int(now),
        "model": model_name,
    }
    if not stream:
        return JSONResponse(
            {
                **head,
                "choices": [
                    {"text": text, "index": i, "logprobs": None, "finish_reason": reason}
                    for i, (text, reason) in enumerate(choices)
                ],
                "usage": usage,
            }
        )

    def chunks() -> Iterator[dict[str, Any]]:
        for i, (text, reason) in enumerate(choices):
            fake = gen.Choice(text, reason, enc.encode_ordinary(text))
            for piece in gen.token_pieces(fake, enc):
                yield {
                    **head,
                    "choices": [
                        {"text": piece, "index": i, "logprobs": None, "finish_reason": None}
                    ],
                }
            yield {
                **head,
                "choices": [{"text": "", "index": i, "logprobs": None, "finish_reason": reason}],
            }
        if include_usage:
            yield {**head, "choices": [], "usage": usage}

    return _sse(chunks())


def chat_completion(call: Call) -> Response:
    body, now = call.body, call.now
    name = params.required_string(body, "model")
    base, tuned = call.store.sampling_model(name, now)
    if not base.chat:
        raise errors.completion_model_on_chat()
    messages = body.get("messages")
    if messages is None:
        raise errors.missing("messages")
    if not isinstance(messages, list) or not messages:
        raise errors.invalid_type("messages", "a non-empty array", messages)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise errors.missing(f"messages[{i}].role")
    from ftctl.tokens import encoding_for_model

    enc = encoding_for_model(base.id)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = None if limit is None else _max_tokens("max_tokens", limit, 1, base)
    n, stop, stream, include_usage = _common(body)
    user = ""
    for message in reversed(messages):
        if message.get("role") == "user":
            user = gen.message_text(message)
            break
    answers = []
    completion_tokens = 0
    for _ in range(n):
        if tuned:
            pieces = gen.learned_text(tuned.pairs, user)
            natural = 1
        else:
            pieces = gen.base_text(user)
            natural = 2
        choice = gen.generate(
            pieces, enc=enc, max_tokens=max_tokens, stop=stop, natural_pieces=natural
        )
        text = choice.text.strip() if not tuned else choice.text
        choice = gen.Choice(text, choice.finish_reason, enc.encode_ordinary(text))
        completion_tokens += len(choice.tokens)
        answers.append(choice)
    prompt_tokens = chat_tokens(messages, enc)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    head = {
        "id": "chatcmpl-" + _short(call),
        "created": int(now),
        "model": tuned.id if tuned else snapshot_of(base),
        "service_tier": "default",
    }
    if not stream:
        return JSONResponse(
            {
                **head,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": i,
                        "message": {
                            "role": "assistant",
                            "content": c.text,
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": c.finish_reason,
                    }
                    for i, c in enumerate(answers)
                ],
                "usage": usage,
            }
        )
    chunk_head = {**head, "object": "chat.completion.chunk"}

    def chunks() -> Iterator[dict[str, Any]]:
        extra: dict[str, Any] = {"usage": None} if include_usage else {}
        for i, c in enumerate(answers):
            yield {
                **chunk_head,
                "choices": [
                    {
                        "index": i,
                        "delta": {"role": "assistant", "content": "", "refusal": None},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
                **extra,
            }
            for piece in gen.token_pieces(c, enc):
                yield {
                    **chunk_head,
                    "choices": [
                        {
                            "index": i,
                            "delta": {"content": piece},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                    **extra,
                }
            yield {
                **chunk_head,
                "choices": [
                    {
                        "index": i,
                        "delta": {},
                        "logprobs": None,
                        "finish_reason": c.finish_reason,
                    }
                ],
                **extra,
            }
        if include_usage:
            yield {**chunk_head, "choices": [], "usage": usage}

    return _sse(chunks())


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


def _sse(chunks: Iterator[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


ROUTES = [
    endpoint("POST", "/v1/completions", completion, body="json"),
    endpoint("POST", "/v1/chat/completions", chat_completion, body="json"),
]
