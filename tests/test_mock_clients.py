"""The mock as real clients meet it: strict argument checks, structured output, log
probabilities, forced tools, rate-limit headers, usage details, and LangChain on top.

Each test drives the mock on loopback through the official SDK (or LangChain's ChatOpenAI over
it) and asserts on what the client sees and, where it matters, what went over the wire.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openapi_schema_validator import OAS31Validator

from tests.support.mock_server import FakeClock, running_mock
from tests.support.openapi_check import validate_response, validate_stream

CHAT_ROWS = [
    ("What is the capital of France?", "Paris, as if you didn't know."),
    ("How far is the Moon?", "About 384,400 km, give or take a rocket."),
    ("Who wrote Hamlet?", "Shakespeare, obviously."),
    ("What is 2 + 2?", "Four. Groundbreaking, I know."),
    ("Name a primary colour.", "Red, like my patience running out."),
    ("What is water made of?", "Hydrogen and oxygen, chemistry 101."),
    ("Is the sun hot?", "Only about 5,500 degrees at the surface."),
    ("What language is spoken in Spain?", "Spanish, who would have guessed."),
    ("How many legs does a spider have?", "Eight, more than enough."),
    ("What is the boiling point of water?", "100 degrees Celsius at sea level."),
]


@pytest.fixture(scope="module")
def mock() -> Iterator[tuple[openai.OpenAI, str, str]]:
    """A mock with one finished chat tune: (client, base URL, tuned model)."""
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock) as url:
        client = openai.OpenAI(
            base_url=url, api_key="sk-test", max_retries=0, http_client=httpx.Client()
        )
        data = "".join(
            json.dumps(
                {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            )
            + "\n"
            for q, a in CHAT_ROWS
        ).encode()
        file = client.files.create(file=("chat.jsonl", io.BytesIO(data)), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(training_file=file.id, model="gpt-4o-mini")
        clock.advance(120)
        model = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
        assert model is not None
        yield client, url, model


def _post(url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url + path, json=body, headers={"Authorization": "Bearer sk-test"})


USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.mark.parametrize(
    ("path", "body", "param", "code", "message"),
    [
        (
            "/chat/completions",
            {"temperature": 5},
            "temperature",
            "decimal_above_max_value",
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, "
            "but got 5 instead.",
        ),
        (
            "/chat/completions",
            {"top_p": -0.5},
            "top_p",
            "decimal_below_min_value",
            "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, "
            "but got -0.5 instead.",
        ),
        (
            "/chat/completions",
            {"n": 0},
            "n",
            "integer_below_min_value",
            "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        ),
        (
            "/chat/completions",
            {"top_logprobs": 3},
            "top_logprobs",
            "invalid_value",
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
            "'top_logprobs' is used.",
        ),
        (
            "/chat/completions",
            {"frobnicate": True},
            None,
            None,
            "Unrecognized request argument supplied: frobnicate",
        ),
        (
            "/chat/completions",
            {"reasoning_effort": "low"},
            None,
            None,
            "Unrecognized request argument supplied: reasoning_effort",  # not a reasoning model
        ),
        (
            "/completions",
            {"logprobs": 6},
            "logprobs",
            "integer_above_max_value",
            "Invalid 'logprobs': integer above maximum value. Expected a value <= 5, "
            "but got 6 instead.",
        ),
        (
            "/completions",
            {"presence_penalty": 2.5},
            "presence_penalty",
            "decimal_above_max_value",
            "Invalid 'presence_penalty': decimal above maximum value. Expected a value <= 2, "
            "but got 2.5 instead.",
        ),
    ],
)
def test_out_of_range_and_unknown_arguments_are_refused_naming_param(
    mock: tuple[openai.OpenAI, str, str],
    path: str,
    body: dict[str, Any],
    param: str | None,
    code: str | None,
    message: str,
) -> None:
    _, url, _ = mock
    base = (
        {"model": "gpt-4o-mini", "messages": USER}
        if path == "/chat/completions"
        else {"model": "babbage-002", "prompt": "x"}
    )
    response = _post(url, path, {**base, **body})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


def test_a_reasoning_model_takes_reasoning_effort(mock: tuple[openai.OpenAI, str, str]) -> None:
    client, _, _ = mock
    answer = client.chat.completions.create(
        model="o4-mini",
        messages=USER,  # type: ignore[arg-type]
        reasoning_effort="low",
    )
    assert answer.choices[0].message.content


def test_the_sdk_sees_a_bad_request_for_temperature_five(
    mock: tuple[openai.OpenAI, str, str],
) -> None:
    client, _, model = mock
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=USER, temperature=5)  # type: ignore[arg-type]
    assert caught.value.param == "temperature"


def test_six_rate_limit_headers_on_chat_and_completions(
    mock: tuple[openai.OpenAI, str, str],
) -> None:
    _, url, model = mock
    names = [
        f"x-ratelimit-{kind}-{what}"
        for kind in ("limit", "remaining", "reset")
        for what in ("requests", "tokens")
    ]
    first = _post(url, "/chat/completions", {"model": model, "messages": USER})
    second = _post(url, "/completions", {"model": "babbage-002", "prompt": "Once upon"})
    streamed = _post(url, "/chat/completions", {"model": model, "messages": USER, "stream": True})
    for response in (first, second, streamed):
        assert response.status_code == 200
        assert all(name in response.headers for name in names), response.headers
        assert int(response.headers["x-ratelimit-remaining-requests"]) < int(
            response.headers["x-ratelimit-limit-requests"]
        )
        assert re.fullmatch(
            r"\d+(\.\d+)?(ms|s)|\d+m\d+s", response.headers["x-ratelimit-reset-tokens"]
        )
    # Spent tokens come off the remaining figure.
    assert int(second.headers["x-ratelimit-remaining-tokens"]) < int(
        first.headers["x-ratelimit-remaining-tokens"]
    )


def test_chat_answers_carry_fingerprint_and_token_details(
    mock: tuple[openai.OpenAI, str, str],
) -> None:
    client, url, model = mock
    answer = client.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Paris, as if you didn't know."
    assert answer.system_fingerprint and re.fullmatch(r"fp_[0-9a-f]{10}", answer.system_fingerprint)
    assert answer.usage is not None
    assert answer.usage.prompt_tokens_details is not None
    assert answer.usage.prompt_tokens_details.cached_tokens == 0
    assert answer.usage.completion_tokens_details is not None
    assert answer.usage.completion_tokens_details.reasoning_tokens == 0
    raw = _post(url, "/chat/completions", {"model": model, "messages": USER}).json()
    validate_response("createChatCompletion", 200, raw)


def test_logprobs_are_shaped_like_the_services(mock: tuple[openai.OpenAI, str, str]) -> None:
    client, url, model = mock
    answer = client.chat.completions.create(
        model=model,
        messages=USER,  # type: ignore[arg-type]
        logprobs=True,
        top_logprobs=3,
    )
    content = answer.choices[0].message.content
    logprobs = answer.choices[0].logprobs
    assert content and logprobs is not None and logprobs.content
    assert "".join(t.token for t in logprobs.content) == content
    for entry in logprobs.content:
        assert entry.logprob <= 0
        assert bytes(entry.bytes or []).decode() == entry.token
        assert len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].token == entry.token  # what was emitted was likeliest
        ranked = [t.logprob for t in entry.top_logprobs]
        assert ranked == sorted(ranked, reverse=True)
        assert sum(math.exp(lp) for lp in ranked) <= 1.0 + 1e-9
    # A tune repeating what it learned is sure of itself; a base model less so.
    base = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER,  # type: ignore[arg-type]
        logprobs=True,
    )
    assert base.choices[0].logprobs and base.choices[0].logprobs.content
    tuned_mean = sum(t.logprob for t in logprobs.content) / len(logprobs.content)
    base_lps = [t.logprob for t in base.choices[0].logprobs.content]
    assert tuned_mean > sum(base_lps) / len(base_lps)
    assert base.choices[0].logprobs.content[0].top_logprobs == []  # none asked for

    body = {"model": model, "messages": USER, "logprobs": True, "top_logprobs": 2}
    validate_response("createChatCompletion", 200, _post(url, "/chat/completions", body).json())
    streamed = _post(url, "/chat/completions", {**body, "stream": True})
    chunks = validate_stream("createChatCompletion", streamed.text)
    tokens = [
        t["token"]
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["logprobs"]
        for t in choice["logprobs"]["content"]
    ]
    assert "".join(tokens) == content


def test_completion_logprobs_use_the_legacy_arrays(mock: tuple[openai.OpenAI, str, str]) -> None:
    client, url, _ = mock
    prompt = "Once upon a time"
    answer = client.completions.create(
        model="babbage-002", prompt=prompt, max_tokens=8, logprobs=2, echo=True
    )
    lp = answer.choices[0].logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.top_logprobs and lp.text_offset
    assert "".join(lp.tokens) == answer.choices[0].text
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None  # the first prompt token
    assert all(len(top) == 2 for top in lp.top_logprobs[1:] if top is not None)
    assert lp.text_offset[0] == 0
    plain = client.completions.create(model="babbage-002", prompt=prompt, max_tokens=4, logprobs=0)
    assert plain.choices[0].logprobs and plain.choices[0].logprobs.text_offset
    assert plain.choices[0].logprobs.text_offset[0] == len(prompt)
    body = {"model": "babbage-002", "prompt": prompt, "max_tokens": 5, "logprobs": 1}
    validate_response("createCompletion", 200, _post(url, "/completions", body).json())
    validate_stream("createCompletion", _post(url, "/completions", {**body, "stream": True}).text)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit", "days"],
            "additionalProperties": False,
        },
    },
}
OTHER = {
    "type": "function",
    "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}},
}


def test_a_forced_tool_choice_returns_a_tool_call(mock: tuple[openai.OpenAI, str, str]) -> None:
    client, url, model = mock
    schema = OAS31Validator(WEATHER["function"]["parameters"])  # type: ignore[index]
    forced = client.chat.completions.create(
        model=model,
        messages=USER,  # type: ignore[arg-type]
        tools=[OTHER, WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    choice = forced.choices[0]
    assert choice.message.content is None and choice.finish_reason == "stop"
    assert choice.message.tool_calls and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    schema.validate(json.loads(call.function.arguments))  # type: ignore[union-attr]

    required = client.chat.completions.create(
        model="gpt-4.1-mini",
        messages=USER,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
    )
    assert required.choices[0].finish_reason == "tool_calls"
    assert required.choices[0].message.tool_calls

    auto = client.chat.completions.create(
        model=model,
        messages=USER,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert auto.choices[0].message.tool_calls is None and auto.choices[0].message.content

    body = {
        "model": model,
        "messages": USER,
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    validate_response("createChatCompletion", 200, _post(url, "/chat/completions", body).json())
    chunks = validate_stream(
        "createChatCompletion", _post(url, "/chat/completions", {**body, "stream": True}).text
    )
    pieces = [
        call["function"].get("arguments", "")
        for chunk in chunks
        for c in chunk["choices"]
        for call in c["delta"].get("tool_calls") or []
    ]
    schema.validate(json.loads("".join(pieces)))

    unknown = _post(
        url,
        "/chat/completions",
        {**body, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "tool_choice"


def test_response_format_json_object_and_json_schema(mock: tuple[openai.OpenAI, str, str]) -> None:
    client, url, model = mock
    as_object = client.chat.completions.create(
        model=model,
        messages=USER,  # type: ignore[arg-type]
        response_format={"type": "json_object"},
    )
    parsed = json.loads(as_object.choices[0].message.content or "")
    assert parsed == {"response": "Paris, as if you didn't know."}

    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"anyOf": [{"$ref": "#/$defs/kind"}, {"type": "null"}]},
        },
        "required": ["answer", "confidence", "tags", "kind"],
        "additionalProperties": False,
        "$defs": {"kind": {"type": "string", "enum": ["fact", "joke"]}},
    }
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "Answer", "schema": schema, "strict": True},
    }
    structured = client.chat.completions.create(
        model=model,
        messages=USER,  # type: ignore[arg-type]
        response_format=fmt,  # type: ignore[arg-type]
    )
    value = json.loads(structured.choices[0].message.content or "")
    OAS31Validator(schema).validate(value)
    assert value["answer"] == "Paris, as if you didn't know."  # the learned reply survives

    loose = {**schema, "additionalProperties": True}
    refused = _post(
        url,
        "/chat/completions",
        {
            "model": model,
            "messages": USER,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "Answer", "schema": loose, "strict": True},
            },
        },
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "response_format"
    assert (
        "'additionalProperties' is required to be supplied and to be false"
        in (refused.json()["error"]["message"])
    )


def test_langchain_structured_output_json_mode_and_schema(
    mock: tuple[openai.OpenAI, str, str],
) -> None:
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    _, url, model = mock
    sent: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    llm = ChatOpenAI(
        model=model,
        base_url=url,
        api_key="sk-test",  # type: ignore[arg-type]
        max_retries=0,
        http_client=httpx.Client(event_hooks={"request": [record]}),
    )
    as_json = llm.with_structured_output(None, method="json_mode").invoke(
        "What is the capital of France?"
    )
    assert as_json == {"response": "Paris, as if you didn't know."}
    assert sent[-1]["response_format"] == {"type": "json_object"}

    class Answer(BaseModel):
        answer: str
        confident: bool

    typed = llm.with_structured_output(Answer, method="json_schema").invoke(
        "What is the capital of France?"
    )
    assert isinstance(typed, Answer) and typed.answer == "Paris, as if you didn't know."
    assert sent[-1]["response_format"]["type"] == "json_schema"

    tooled = llm.with_structured_output(Answer, method="function_calling").invoke(
        "Who wrote Hamlet?"
    )
    assert isinstance(tooled, Answer)
    assert sent[-1]["tool_choice"]["function"]["name"] == "Answer"


def test_json_mode_follows_the_shape_the_prompt_asks_for(
    mock: tuple[openai.OpenAI, str, str],
) -> None:
    """LangChain's json_mode with a pydantic schema: the prompt carries the schema (as its
    PydanticOutputParser's format instructions print it), and the answer has that shape."""
    from langchain_core.output_parsers import PydanticOutputParser
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    _, url, model = mock

    class Answer(BaseModel):
        answer: str
        confident: bool
        sources: list[str]

    instructions = PydanticOutputParser(pydantic_object=Answer).get_format_instructions()
    llm = ChatOpenAI(
        model=model,
        base_url=url,
        api_key="sk-test",  # type: ignore[arg-type]
        max_retries=0,
        http_client=httpx.Client(),
    )
    typed = llm.with_structured_output(Answer, method="json_mode").invoke(
        f"{instructions}\nWhat is the capital of France?"
    )
    assert isinstance(typed, Answer) and typed.answer == "Paris, as if you didn't know."
    # An example object in the prompt works the same way.
    example = llm.with_structured_output(None, method="json_mode").invoke(
        'Reply as {"city": "...", "population": 0}. What is the capital of France?'
    )
    assert isinstance(example, dict) and set(example) == {"city", "population"}
    assert isinstance(example["population"], int)


def test_legacy_functions_and_a_forced_function_call(mock: tuple[openai.OpenAI, str, str]) -> None:
    _, url, model = mock
    function = WEATHER["function"]
    body = {
        "model": model,
        "messages": USER,
        "functions": [function],
        "function_call": {"name": "get_weather"},
    }
    answer = _post(url, "/chat/completions", body).json()
    message = answer["choices"][0]["message"]
    assert message["content"] is None and message["function_call"]["name"] == "get_weather"
    OAS31Validator(function["parameters"]).validate(  # type: ignore[index]
        json.loads(message["function_call"]["arguments"])
    )
    validate_response("createChatCompletion", 200, answer)
