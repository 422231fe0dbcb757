"""What the mock's models say. A tune answers with the learned completion of the closest training
prompt (an exact match first) and, like a lightly tuned base model, keeps going with more learned
text until `max_tokens`, so `stop` matters. Base models answer with fixed, prompt-seeded text.
Token counts use the model's real encoding."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ftctl.mock import errors, params
from ftctl.mock.errors import check_int_range, invalid_type, missing
from ftctl.mock.json_output import SchemaError, check_strict, instance, json_object

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


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


# -- requests as the service checks them ---------------------------------------------------------

CHAT_PARAMS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model",
        "moderation", "n", "parallel_tool_calls", "prediction", "presence_penalty",
        "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning_effort",
        "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
        "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
        "verbosity", "web_search_options",
    }
)  # fmt: skip
COMPLETION_PARAMS = frozenset(
    {
        "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "model",
        "n", "presence_penalty", "prompt", "seed", "stop", "stream", "stream_options", "suffix",
        "temperature", "top_p", "user",
    }
)  # fmt: skip


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_known(body: dict[str, Any], allowed: frozenset[str]) -> None:
    """The service's refusal of an argument it does not know (it names no `param` for these)."""
    for key in body:
        if key not in allowed:
            raise errors.unrecognized_sampling_argument(key)


def check_decimal(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if not _is_number(value):
        raise invalid_type(name, "a decimal", value)
    assert isinstance(value, int | float)
    if value < low:
        raise errors.decimal_below(name, low, value)
    if value > high:
        raise errors.decimal_above(name, high, value)
    return float(value)


def check_int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_type(name, "an integer", value)
    return check_int_range(name, value, low, high)


def check_bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid_type(name, "a boolean", value)
    return value


def _check_sampling(body: dict[str, Any]) -> None:
    check_decimal(body, "temperature", 0, 2)
    check_decimal(body, "top_p", 0, 1)
    check_decimal(body, "presence_penalty", -2, 2)
    check_decimal(body, "frequency_penalty", -2, 2)
    bias = body.get("logit_bias")
    if bias is not None:
        if not isinstance(bias, dict):
            raise invalid_type("logit_bias", "an object", bias)
        for token, weight in bias.items():
            if not _is_number(weight) or not -100 <= weight <= 100:
                raise errors.logit_bias_range(str(token))


@dataclass(frozen=True)
class Forced:
    """What `tool_choice` / `function_call` demand: a named tool, any tool, or none."""

    kind: Literal["tool", "function"]
    name: str | None  # None: `required` (the first tool is called)


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    n: int
    stop: list[str]
    stream: bool
    include_usage: bool
    max_tokens: int | None
    logprobs: bool
    top_logprobs: int
    response_format: dict[str, Any] | None
    tools: list[dict[str, Any]]
    forced: Forced | None
    seed: int | None

    def schema_for(self, name: str) -> dict[str, Any]:
        for tool in self.tools:
            function = tool.get("function") if tool.get("type") == "function" else tool
            if isinstance(function, dict) and function.get("name") == name:
                params = function.get("parameters")
                return params if isinstance(params, dict) else {"type": "object"}
        return {"type": "object"}


def _stream_options(body: dict[str, Any]) -> tuple[bool, bool]:
    stream = check_bool(body, "stream")
    options = body.get("stream_options")
    if options is not None and not stream:
        raise errors.stream_options_without_stream()
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    return stream, include_usage


def _tools(body: dict[str, Any]) -> tuple[list[dict[str, Any]], Forced | None]:
    tools = body.get("tools")
    functions = body.get("functions")
    listed: list[dict[str, Any]] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid_type("tools", "an array", tools)
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise missing(f"tools[{i}].function.name")
            listed.append({"type": "function", "function": function})
    if functions is not None:
        if not isinstance(functions, list):
            raise invalid_type("functions", "an array", functions)
        for i, function in enumerate(functions):
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise missing(f"functions[{i}].name")
            listed.append({"type": "function", "function": function})
    names = {t["function"]["name"] for t in listed}
    choice, param, kind = body.get("tool_choice"), "tool_choice", "tool"
    if choice is None and body.get("function_call") is not None:
        choice, param, kind = body.get("function_call"), "function_call", "function"
    if choice is None or choice in ("auto", "none"):
        return listed, None
    if choice == "required":
        if not listed:
            raise errors.tool_choice_without_tools()
        return listed, Forced("tool", None)
    if isinstance(choice, dict):
        function = choice.get("function") if kind == "tool" else choice
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise missing(f"{param}.function.name" if kind == "tool" else f"{param}.name")
        if name not in names:
            raise errors.no_such_function(param, name, "tools" if kind == "tool" else "functions")
        return listed, Forced(kind, name)  # type: ignore[arg-type]
    raise errors.bad_tool_choice(param)


def _response_format(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise invalid_type("response_format", "an object", fmt)
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return fmt
    if kind != "json_schema":
        raise errors.response_format_type(kind)
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict):
        raise missing("response_format.json_schema")
    name = spec.get("name")
    if not isinstance(name, str):
        raise missing("response_format.json_schema.name")
    schema = spec.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise invalid_type("response_format.json_schema.schema", "an object", schema)
    if spec.get("strict") is True:
        try:
            check_strict(schema or {})
        except SchemaError as exc:
            raise errors.invalid_json_schema(name, exc.where, str(exc)) from None
    return fmt


def parse_chat(body: dict[str, Any], *, reasoning: bool = False) -> ChatRequest:
    """Check a chat request the way the service does before it samples; raise APIError.

    reasoning: the model is a reasoning model; others refuse `reasoning_effort` as an argument
    they do not know, as the service's do."""
    check_known(body, CHAT_PARAMS)
    if body.get("reasoning_effort") is not None and not reasoning:
        raise errors.unrecognized_sampling_argument("reasoning_effort")
    messages = body.get("messages")
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_type("messages", "a non-empty array", messages)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise missing(f"messages[{i}].role")
    _check_sampling(body)
    n = check_int(body, "n", 1, 128) or 1
    limit_name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    max_tokens = check_int(body, limit_name, 1, 1 << 20)
    logprobs = check_bool(body, "logprobs")
    top = check_int(body, "top_logprobs", 0, 20)
    if top is not None and not logprobs:
        raise errors.top_logprobs_without_logprobs()
    stream, include_usage = _stream_options(body)
    tools, forced = _tools(body)
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise invalid_type("seed", "an integer", seed)
    return ChatRequest(
        messages=messages,
        n=n,
        stop=params.stop(body.get("stop")),
        stream=stream,
        include_usage=include_usage,
        max_tokens=max_tokens,
        logprobs=logprobs,
        top_logprobs=top or 0,
        response_format=_response_format(body),
        tools=tools,
        forced=forced,
        seed=seed,
    )


@dataclass(frozen=True)
class CompletionRequest:
    n: int
    stop: list[str]
    stream: bool
    include_usage: bool
    max_tokens: int
    echo: bool
    logprobs: int | None


def parse_completion(body: dict[str, Any]) -> CompletionRequest:
    check_known(body, COMPLETION_PARAMS)
    if "prompt" not in body:
        raise missing("prompt")
    _check_sampling(body)
    n = check_int(body, "n", 1, 128) or 1
    best_of = check_int(body, "best_of", 0, 20)
    if best_of is not None and best_of < n:
        raise errors.best_of_below_n()
    max_tokens = check_int(body, "max_tokens", 0, 1 << 20)
    stream, include_usage = _stream_options(body)
    return CompletionRequest(
        n=n,
        stop=params.stop(body.get("stop")),
        stream=stream,
        include_usage=include_usage,
        max_tokens=16 if max_tokens is None else max_tokens,
        echo=check_bool(body, "echo"),
        logprobs=check_int(body, "logprobs", 0, 5),
    )


# -- log probabilities ---------------------------------------------------------------------------


def _unit(*parts: object) -> float:
    raw = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(raw[:8], "big") / 2**64


def _token_text(enc: Any, token: int) -> tuple[str, list[int]]:
    raw = enc.decode_single_token_bytes(token)
    try:
        return raw.decode("utf-8"), list(raw)
    except UnicodeDecodeError:
        # The service shows a partial UTF-8 sequence as its escaped bytes.
        return "bytes:" + "".join(f"\\x{b:02x}" for b in raw), list(raw)


def _alternatives(enc: Any, token: int, count: int, key: str) -> list[int]:
    out: list[int] = []
    step = 0
    while len(out) < count and step < count * 8:
        step += 1
        candidate = int(_unit(key, token, "alt", step) * 50_000) + 10
        if candidate == token or candidate in out:
            continue
        try:
            enc.decode_single_token_bytes(candidate)
        except KeyError:
            continue
        out.append(candidate)
    return out


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: list[int]
    top: list[tuple[str, float, list[int]]]


def logprobs_for(
    enc: Any, tokens: Sequence[int], *, key: str, confident: bool, top: int
) -> list[TokenLogprob]:
    """Deterministic, well-formed log probabilities: the emitted token is always the likeliest
    (a tuned model echoing what it learned is near-certain), the alternatives share what is
    left, and no position's probabilities sum past 1."""
    out = []
    for position, token in enumerate(tokens):
        spread = 0.05 if confident else 1.6
        chosen = -round(spread * _unit(key, position, token) ** 2 + 1e-5, 6)
        p_chosen = math.exp(chosen)
        text, raw = _token_text(enc, token)
        alternatives = [(text, chosen, raw)]
        remaining = 1.0 - p_chosen
        for rank, alt in enumerate(_alternatives(enc, token, max(0, top - 1), key), 1):
            p = min(remaining * 0.5**rank, p_chosen * 0.8**rank)
            alt_text, alt_raw = _token_text(enc, alt)
            alternatives.append((alt_text, round(math.log(max(p, 1e-12)), 6), alt_raw))
        out.append(TokenLogprob(text, chosen, raw, alternatives[:top]))
    return out


def chat_logprob_content(entries: Sequence[TokenLogprob]) -> list[dict[str, Any]]:
    return [
        {
            "token": e.token,
            "logprob": e.logprob,
            "bytes": e.bytes,
            "top_logprobs": [{"token": t, "logprob": lp, "bytes": b} for t, lp, b in e.top],
        }
        for e in entries
    ]


def completion_logprobs(
    entries: Sequence[TokenLogprob], *, start_offset: int, first_is_prompt: bool
) -> dict[str, Any]:
    """The legacy completions shape: parallel arrays and a {token: logprob} map per position."""
    offsets, at = [], start_offset
    for e in entries:
        offsets.append(at)
        at += len(bytes(e.bytes).decode("utf-8", errors="replace"))
    token_logprobs: list[float | None] = [e.logprob for e in entries]
    tops: list[dict[str, float] | None] = [{t: lp for t, lp, _ in e.top} for e in entries]
    if first_is_prompt and entries:
        token_logprobs[0] = None  # nothing precedes the first prompt token
        tops[0] = None
    return {
        "tokens": [e.token for e in entries],
        "token_logprobs": token_logprobs,
        "top_logprobs": tops,
        "text_offset": offsets,
    }


def token_groups(tokens: Sequence[int], enc: Any) -> list[tuple[str, list[int]]]:
    """Tokens grouped as a stream sends them: each group decodes to whole characters."""
    groups: list[tuple[str, list[int]]] = []
    pending, members = b"", []
    for token in tokens:
        pending += enc.decode_single_token_bytes(token)
        members.append(token)
        try:
            groups.append((pending.decode("utf-8"), members))
        except UnicodeDecodeError:
            continue
        pending, members = b"", []
    if members:
        groups.append((pending.decode("utf-8", errors="replace"), members))
    return groups


# -- what a chat model answers -------------------------------------------------------------------


@dataclass(frozen=True)
class ChatChoice:
    content: str | None
    finish_reason: str
    tokens: list[int]  # of the content, or of the call's arguments
    tool_calls: list[dict[str, Any]] | None = None
    function_call: dict[str, Any] | None = None
    logprobs: list[TokenLogprob] | None = None


def last_user_text(messages: Sequence[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def chat_choices(
    req: ChatRequest, *, pairs: Sequence[tuple[str, str]] | None, enc: Any, key: str
) -> list[ChatChoice]:
    """The n answers: learned text for a tune, fixed text for a base model; shaped into JSON or a
    tool call when the request demands one."""
    user = last_user_text(req.messages)
    out = []
    for index in range(req.n):
        if pairs:
            pieces, natural = learned_text(pairs, user), 1
        else:
            pieces, natural = base_text(user), 2
        plain = generate(
            pieces, enc=enc, max_tokens=req.max_tokens, stop=req.stop, natural_pieces=natural
        )
        text = plain.text if pairs else plain.text.strip()
        seed = f"{key}:{index}"
        if req.forced is not None:
            out.append(_call(req, text, enc, seed))
            continue
        if req.response_format is not None:
            prompt = "\n".join(message_text(m) for m in req.messages)
            text = _structured(req.response_format, text, prompt, seed)
        tokens = enc.encode_ordinary(text)
        reason = plain.finish_reason
        if req.response_format is not None:
            reason = "stop"  # structured output runs to its closing brace
        probs = None
        if req.logprobs:
            probs = logprobs_for(enc, tokens, key=seed, confident=bool(pairs), top=req.top_logprobs)
        out.append(ChatChoice(text, reason, tokens, logprobs=probs))
    return out


def _structured(fmt: dict[str, Any], text: str, prompt: str, seed: str) -> str:
    if fmt["type"] == "json_object":
        return json.dumps(json_object(text, prompt, seed=seed), ensure_ascii=False)
    schema = fmt["json_schema"].get("schema") or {"type": "object"}
    return json.dumps(instance(schema, text, seed=seed), ensure_ascii=False)


def _call(req: ChatRequest, text: str, enc: Any, seed: str) -> ChatChoice:
    assert req.forced is not None
    name = req.forced.name or req.tools[0]["function"]["name"]
    arguments = json.dumps(instance(req.schema_for(name), text, seed=seed), ensure_ascii=False)
    tokens = enc.encode_ordinary(name + arguments)
    # A named function ends the turn with "stop"; `required` reports the call itself.
    reason = "stop" if req.forced.name else "tool_calls"
    if req.forced.kind == "function":
        return ChatChoice(
            None, "stop", tokens, function_call={"name": name, "arguments": arguments}
        )
    call_id = "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    return ChatChoice(None, reason, tokens, tool_calls=[call])


def chat_usage(prompt_tokens: int, choices: Sequence[ChatChoice]) -> dict[str, Any]:
    completion = sum(len(c.tokens) for c in choices)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def system_fingerprint(model: str) -> str:
    """Stable per model, as the service's backend configuration is between deployments."""
    return "fp_" + hashlib.sha256(model.encode()).hexdigest()[:10]


def chat_message(choice: ChatChoice) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": choice.content,
        "refusal": None,
        "annotations": [],
    }
    if choice.tool_calls is not None:
        message["tool_calls"] = choice.tool_calls
    if choice.function_call is not None:
        message["function_call"] = choice.function_call
    return message


def _logprobs_json(choice: ChatChoice) -> dict[str, Any] | None:
    if choice.logprobs is None:
        return None
    return {"content": chat_logprob_content(choice.logprobs), "refusal": None}


def chat_body(
    head: dict[str, Any], choices: Sequence[ChatChoice], usage: dict[str, Any]
) -> dict[str, Any]:
    return {
        **head,
        "object": "chat.completion",
        "choices": [
            {
                "index": i,
                "message": chat_message(c),
                "logprobs": _logprobs_json(c),
                "finish_reason": c.finish_reason,
            }
            for i, c in enumerate(choices)
        ],
        "usage": usage,
    }


def chat_chunks(
    head: dict[str, Any],
    choices: Sequence[ChatChoice],
    usage: dict[str, Any],
    *,
    include_usage: bool,
    enc: Any,
) -> Iterator[dict[str, Any]]:
    """The stream: a role delta, the content (or call arguments) piece by piece, a finish."""
    head = {**head, "object": "chat.completion.chunk"}
    extra: dict[str, Any] = {"usage": None} if include_usage else {}

    def chunk(index: int, delta: dict[str, Any], logprobs: Any, reason: str | None) -> Any:
        return {
            **head,
            "choices": [
                {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": reason}
            ],
            **extra,
        }

    for i, c in enumerate(choices):
        first: dict[str, Any] = {
            "role": "assistant",
            "content": "" if c.content is not None else None,
        }
        first["refusal"] = None
        if c.tool_calls is not None:
            call = c.tool_calls[0]
            first["tool_calls"] = [
                {
                    "index": 0,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
            ]
        if c.function_call is not None:
            first["function_call"] = {"name": c.function_call["name"], "arguments": ""}
        yield chunk(i, first, None, None)
        if c.content is not None:
            tokens = enc.encode_ordinary(c.content)
            probs = iter(c.logprobs or [])
            for text, members in token_groups(tokens, enc):
                lp = None
                if c.logprobs is not None:
                    part = [next(probs) for _ in members]
                    lp = {"content": chat_logprob_content(part), "refusal": None}
                yield chunk(i, {"content": text}, lp, None)
        else:
            arguments = (c.tool_calls[0]["function"] if c.tool_calls else c.function_call or {})[
                "arguments"
            ]
            for text, _ in token_groups(enc.encode_ordinary(arguments), enc):
                if c.tool_calls is not None:
                    delta: dict[str, Any] = {
                        "tool_calls": [{"index": 0, "function": {"arguments": text}}]
                    }
                else:
                    delta = {"function_call": {"arguments": text}}
                yield chunk(i, delta, None, None)
        yield chunk(i, {}, None, c.finish_reason)
    if include_usage:
        yield {**head, "choices": [], "usage": usage}


# -- rate-limit headers --------------------------------------------------------------------------


class RateWindow:
    """The six `x-ratelimit-*` headers, from requests and tokens spent in the current minute.

    The mock enforces nothing here; it reports, as the service does, so rate-aware clients
    (which pace themselves on these) see plausible, moving figures."""

    REQUESTS = 10_000
    TOKENS = 30_000_000
    WINDOW = 60.0

    def __init__(self) -> None:
        # Oldest first, with a running total: each request costs O(1), not O(the minute's load).
        self.spent: deque[tuple[float, int]] = deque()
        self.used = 0

    def headers(self, now: float, tokens: int) -> dict[str, str]:
        while self.spent and now - self.spent[0][0] >= self.WINDOW:
            self.used -= self.spent.popleft()[1]
        self.spent.append((now, tokens))
        self.used += tokens
        used = self.used
        oldest = self.spent[0][0]
        reset_requests = self.WINDOW / self.REQUESTS * len(self.spent)
        reset_tokens = max(0.0, self.WINDOW - (now - oldest)) * used / self.TOKENS
        return {
            "x-ratelimit-limit-requests": str(self.REQUESTS),
            "x-ratelimit-limit-tokens": str(self.TOKENS),
            "x-ratelimit-remaining-requests": str(self.REQUESTS - len(self.spent)),
            "x-ratelimit-remaining-tokens": str(max(0, self.TOKENS - used)),
            "x-ratelimit-reset-requests": _duration(reset_requests),
            "x-ratelimit-reset-tokens": _duration(reset_tokens),
        }


def _duration(seconds: float) -> str:
    """The service's Go-style durations: `6ms`, `1.5s`, `2m0s`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s"


# -- what a completion model answers -------------------------------------------------------------


@dataclass(frozen=True)
class TextChoice:
    text: str
    finish_reason: str
    logprobs: dict[str, Any] | None
    groups: list[tuple[str, dict[str, Any] | None]]  # stream pieces with their logprobs


def completion_choices(
    req: CompletionRequest,
    prompts: Sequence[str],
    *,
    pairs: Sequence[tuple[str, str]] | None,
    enc: Any,
    key: str,
) -> tuple[list[TextChoice], dict[str, int]]:
    """n answers per prompt, in the service's order (all of the first prompt's, then the next)."""
    choices = []
    prompt_tokens = completion_tokens = 0
    for p_index, prompt in enumerate(prompts):
        prompt_ids = enc.encode_ordinary(prompt)
        prompt_tokens += len(prompt_ids)
        for index in range(req.n):
            pieces = learned_text(pairs, prompt) if pairs else base_text(prompt)
            choice = generate(
                pieces, enc=enc, max_tokens=req.max_tokens, stop=req.stop, natural_pieces=None
            )
            completion_tokens += len(choice.tokens)
            text = (prompt + choice.text) if req.echo else choice.text
            shown = (prompt_ids if req.echo else []) + choice.tokens
            probs = None
            entries: list[TokenLogprob] = []
            if req.logprobs is not None:
                entries = logprobs_for(
                    enc,
                    shown,
                    key=f"{key}:{p_index}:{index}",
                    confident=bool(pairs),
                    top=req.logprobs,
                )
                start = 0 if req.echo else len(prompt)
                probs = completion_logprobs(entries, start_offset=start, first_is_prompt=req.echo)
            groups: list[tuple[str, dict[str, Any] | None]] = []
            at = 0
            offset = 0 if req.echo else len(prompt)
            for piece, members in token_groups(shown, enc):
                part = None
                if probs is not None:
                    part = completion_logprobs(
                        entries[at : at + len(members)],
                        start_offset=offset,
                        first_is_prompt=req.echo and at == 0,
                    )
                at += len(members)
                offset += len(piece)
                groups.append((piece, part))
            choices.append(TextChoice(text, choice.finish_reason, probs, groups))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return choices, usage


def completion_body(
    head: dict[str, Any], choices: Sequence[TextChoice], usage: dict[str, int]
) -> dict[str, Any]:
    return {
        **head,
        "choices": [
            {"text": c.text, "index": i, "logprobs": c.logprobs, "finish_reason": c.finish_reason}
            for i, c in enumerate(choices)
        ],
        "usage": usage,
    }


def completion_chunks(
    head: dict[str, Any],
    choices: Sequence[TextChoice],
    usage: dict[str, int],
    *,
    include_usage: bool,
) -> Iterator[dict[str, Any]]:
    for i, c in enumerate(choices):
        for piece, logprobs in c.groups:
            yield {
                **head,
                "choices": [
                    {"text": piece, "index": i, "logprobs": logprobs, "finish_reason": None}
                ],
            }
        yield {
            **head,
            "choices": [
                {"text": "", "index": i, "logprobs": None, "finish_reason": c.finish_reason}
            ],
        }
    if include_usage:
        yield {**head, "choices": [], "usage": usage}
