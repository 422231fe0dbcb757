"""prepare and the mock apply one set of per-line rules (ftctl.prepare.records): run one corpus of
lines through both and they agree, line for line, on which lines the service would refuse.

Each case is one line, put after ten good lines of its kind, so the case is line 11: prepare's
check (`check_training_file`, what `ftctl create` runs before uploading) names line 11 or does
not, and the mock, over HTTP on loopback, fails the job at "Line 11" while validating files or
does not. Each case also says what the service does with it, so the two cannot agree by both
being wrong.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ftctl.mock.store import Limits
from ftctl.prepare import check_training_file
from tests.support.mock_server import FakeClock, running_mock


def user(content: object = "What is the capital of France?") -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: object = "Paris.", **extra: object) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **extra}


SYSTEM = {"role": "system", "content": "You answer in one word."}
CHAT = {"messages": [SYSTEM, user(), assistant()]}
PREFERENCE = {
    "input": {"messages": [user()]},
    "preferred_output": [assistant("Paris.")],
    "non_preferred_output": [assistant("Lyon.")],
}
REINFORCEMENT = {"messages": [SYSTEM, user()], "answer": "Paris"}
PAIR = {"prompt": "France ->", "completion": " Paris"}
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
CALL = {"id": "call_1", "type": "function", "function": {"name": "capital", "arguments": "{}"}}
TOOLS = [{"type": "function", "function": {"name": "capital", "parameters": {"type": "object"}}}]
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/paris.png"}}


@dataclass(frozen=True)
class Kind:
    method: str
    model: str
    good: dict[str, Any]


SUPERVISED = Kind("supervised", "gpt-4o-mini-2024-07-18", CHAT)
DPO = Kind("dpo", "gpt-4.1-mini-2025-04-14", PREFERENCE)
RFT = Kind("reinforcement", "o4-mini-2025-04-16", REINFORCEMENT)
LEGACY = Kind("supervised", "davinci-002", PAIR)


def chat(*messages: dict[str, Any], **top: object) -> dict[str, Any]:
    return {"messages": list(messages), **top}


# (id, kind, line (a JSON value, or raw text), the service accepts it)
CORPUS: list[tuple[str, Kind, object, bool]] = [
    ("chat", SUPERVISED, CHAT, True),
    (
        "developer role",
        SUPERVISED,
        chat({"role": "developer", "content": "Be brief."}, user(), assistant()),
        True,
    ),
    (
        "multi-turn",
        SUPERVISED,
        chat(user(), assistant(), user("And Spain?"), assistant("Madrid.")),
        True,
    ),
    # tools
    (
        "tool call and result",
        SUPERVISED,
        chat(
            user(),
            assistant(None, tool_calls=[CALL]),
            {"role": "tool", "tool_call_id": "call_1", "content": "Paris"},
            assistant(),
            tools=TOOLS,
        ),
        True,
    ),
    (
        "tool message without id",
        SUPERVISED,
        chat(user(), {"role": "tool", "content": "x"}, assistant()),
        False,
    ),
    (
        "tool call arguments not text",
        SUPERVISED,
        chat(
            user(),
            assistant(None, tool_calls=[{**CALL, "function": {"name": "f", "arguments": {}}}]),
        ),
        False,
    ),
    ("tools not a list", SUPERVISED, chat(user(), assistant(), tools={"type": "function"}), False),
    (
        "tool calls from a user",
        SUPERVISED,
        chat({**user(), "tool_calls": [CALL]}, assistant()),
        False,
    ),
    # functions (the deprecated spelling of tools)
    (
        "function call and function role",
        SUPERVISED,
        chat(
            user(),
            assistant(None, function_call={"name": "capital", "arguments": "{}"}),
            {"role": "function", "name": "capital", "content": "Paris"},
            assistant(),
            functions=[{"name": "capital", "parameters": {"type": "object"}}],
        ),
        True,
    ),
    (
        "function role without name",
        SUPERVISED,
        chat(user(), {"role": "function", "content": "Paris"}, assistant()),
        False,
    ),
    (
        "function call without arguments",
        SUPERVISED,
        chat(user(), assistant(None, function_call={"name": "f"})),
        False,
    ),
    # content parts (vision fine-tuning sends user messages this way)
    (
        "text parts",
        SUPERVISED,
        chat(
            user([{"type": "text", "text": "Capital?"}]),
            assistant([{"type": "text", "text": "Paris."}]),
        ),
        True,
    ),
    (
        "image part from the user",
        SUPERVISED,
        chat(user([{"type": "text", "text": "Where?"}, IMAGE]), assistant()),
        True,
    ),
    (
        "image part with detail",
        SUPERVISED,
        chat(user([{**IMAGE, "image_url": {**IMAGE["image_url"], "detail": "low"}}]), assistant()),
        True,
    ),
    (
        "image detail unknown",
        SUPERVISED,
        chat(user([{**IMAGE, "image_url": {**IMAGE["image_url"], "detail": "max"}}]), assistant()),
        False,
    ),
    ("image part from the assistant", SUPERVISED, chat(user(), assistant([IMAGE])), False),
    ("empty parts", SUPERVISED, chat(user([]), assistant()), False),
    (
        "unknown part type",
        SUPERVISED,
        chat(user([{"type": "audio", "audio": "x"}]), assistant()),
        False,
    ),
    ("text part without text", SUPERVISED, chat(user([{"type": "text"}]), assistant()), False),
    # weights
    (
        "weight 0",
        SUPERVISED,
        chat(user(), assistant(weight=0), user("Spain?"), assistant("Madrid.", weight=1)),
        True,
    ),
    ("weight 0.5", SUPERVISED, chat(user(), assistant(weight=0.5)), False),
    ("weight true", SUPERVISED, chat(user(), assistant(weight=True)), False),
    ("weight on a user", SUPERVISED, chat({**user(), "weight": 1}, assistant()), False),
    # names
    ("name", SUPERVISED, chat({**user(), "name": "ann_1"}, assistant()), True),
    ("name with a space", SUPERVISED, chat({**user(), "name": "ann smith"}, assistant()), False),
    ("name not a string", SUPERVISED, chat({**user(), "name": 7}, assistant()), False),
    # empty strings and wrong types
    ("empty user content", SUPERVISED, chat(user(""), assistant()), False),
    ("empty assistant content", SUPERVISED, chat(user(), assistant("")), False),
    ("null content", SUPERVISED, chat(user(None), assistant()), False),
    ("number content", SUPERVISED, chat(user(42), assistant()), False),
    ("no content", SUPERVISED, chat({"role": "user"}, assistant()), False),
    ("no role", SUPERVISED, chat({"content": "hi"}, assistant()), False),
    ("unknown role", SUPERVISED, chat({"role": "human", "content": "hi"}, assistant()), False),
    ("unknown message key", SUPERVISED, chat({**user(), "mood": "happy"}, assistant()), False),
    ("message not an object", SUPERVISED, chat(user(), "Paris."), False),  # type: ignore[arg-type]
    ("messages empty", SUPERVISED, chat(), False),
    ("messages not a list", SUPERVISED, {"messages": {"role": "user"}}, False),
    ("no assistant", SUPERVISED, chat(SYSTEM, user()), False),
    ("not an object", SUPERVISED, [CHAT], False),
    ("not JSON", SUPERVISED, '{"messages": [', False),
    ("prompt/completion in chat data", SUPERVISED, PAIR, False),
    ("no known key", SUPERVISED, {"text": "Paris"}, False),
    # DPO
    ("preference", DPO, PREFERENCE, True),
    (
        "preference with system and tools",
        DPO,
        {**PREFERENCE, "input": {"messages": [SYSTEM, user()], "tools": TOOLS}},
        True,
    ),
    (
        "preference without non_preferred_output",
        DPO,
        {k: v for k, v in PREFERENCE.items() if k != "non_preferred_output"},
        False,
    ),
    (
        "two preferred outputs",
        DPO,
        {**PREFERENCE, "preferred_output": [assistant(), assistant()]},
        False,
    ),
    ("preferred output from a user", DPO, {**PREFERENCE, "preferred_output": [user()]}, False),
    (
        "preferred output empty content",
        DPO,
        {**PREFERENCE, "preferred_output": [assistant("")]},
        False,
    ),
    ("input without messages", DPO, {**PREFERENCE, "input": {}}, False),
    ("input not an object", DPO, {**PREFERENCE, "input": "What is the capital?"}, False),
    ("chat line in preference data", DPO, CHAT, False),
    # reinforcement
    ("reinforcement", RFT, REINFORCEMENT, True),
    (
        "reinforcement with parts and nested item",
        RFT,
        chat(user([{"type": "text", "text": "Capital?"}]), answer="Paris", meta={"level": 1}),
        True,
    ),
    (
        "reinforcement earlier turns",
        RFT,
        chat(user(), assistant(), user("And Spain?"), answer="Madrid"),
        True,
    ),
    ("reinforcement ending with the assistant", RFT, {**CHAT, "answer": "Paris"}, False),
    (
        "reinforcement ending with a system message",
        RFT,
        chat(user(), SYSTEM, answer="Paris"),
        False,
    ),
    ("reinforcement without messages", RFT, {"answer": "Paris"}, False),
    ("reinforcement empty user content", RFT, chat(user(""), answer="Paris"), False),
    ("preference line in reinforcement data", RFT, PREFERENCE, False),
    # prompt/completion (davinci-002, babbage-002)
    ("prompt/completion", LEGACY, PAIR, True),
    ("no prompt", LEGACY, {"completion": " Paris"}, True),
    ("completion not a string", LEGACY, {"prompt": "France ->", "completion": 7}, False),
    ("empty completion", LEGACY, {"prompt": "France ->", "completion": ""}, False),
    ("chat line in prompt/completion data", LEGACY, CHAT, False),
]


def file_bytes(kind: Kind, line: object) -> bytes:
    good = json.dumps(kind.good)
    case = line if isinstance(line, str) else json.dumps(line)
    return ("\n".join([good] * 10 + [case]) + "\n").encode()


@pytest.fixture(scope="module")
def mock() -> Iterator[tuple[openai.OpenAI, FakeClock]]:
    clock = FakeClock()
    with running_mock(speed=1.0, clock=clock, limits=Limits(active_jobs=1000)) as url:
        client = openai.OpenAI(
            base_url=url,
            api_key="sk-mock-test",
            max_retries=0,
            timeout=10,
            http_client=httpx.Client(),  # type: ignore[arg-type]
        )
        yield client, clock


def prepare_refuses(path: Path, kind: Kind) -> bool:
    check = check_training_file(path, kind.model, method=kind.method)
    assert all(f"{path}:11:" in problem for problem in check.problems), check.problems
    return bool(check.problems)


def mock_refuses(client: openai.OpenAI, clock: FakeClock, data: bytes, kind: Kind) -> bool:
    file_id = client.files.create(file=("data.jsonl", io.BytesIO(data)), purpose="fine-tune").id
    method: dict[str, Any] = {"type": kind.method}
    if kind.method == "reinforcement":
        method["reinforcement"] = {"grader": GRADER}
    job = client.fine_tuning.jobs.create(
        training_file=file_id,
        model=kind.model,
        method=method,  # type: ignore[arg-type]
    )
    clock.advance(3)  # past validating_files
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status != "validating_files"
    if job.status != "failed":
        return False
    assert job.error is not None and job.error.code == "invalid_training_file"
    assert "Line 11" in job.error.message, job.error.message
    return True


@pytest.mark.parametrize(
    ("kind", "line", "accepted"),
    [pytest.param(kind, line, accepted, id=name) for name, kind, line, accepted in CORPUS],
)
def test_prepare_and_the_mock_agree(
    tmp_path: Path,
    mock: tuple[openai.OpenAI, FakeClock],
    kind: Kind,
    line: object,
    accepted: bool,
) -> None:
    data = file_bytes(kind, line)
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    by_prepare = prepare_refuses(path, kind)
    by_mock = mock_refuses(*mock, data, kind)
    assert (by_prepare, by_mock) == (not accepted, not accepted)


def test_the_corpus_covers_every_kind_both_ways() -> None:
    seen = {(kind.method, kind.model, accepted) for _, kind, _, accepted in CORPUS}
    for kind in (SUPERVISED, DPO, RFT, LEGACY):
        assert {(kind.method, kind.model, True), (kind.method, kind.model, False)} <= seen
