"""The service's per-line rules for training data (chat, preference, reinforcement and
prompt/completion), and each example's token count: the one place these rules live. `ftctl prepare`,
`ftctl create` (through ftctl.prepare.check_training_file) and the mock's job validation
(ftctl.mock.training.read_dataset) all call check_record, so the mock refuses exactly the lines
prepare refuses.

Pure functions over parsed JSON values. Token counts are the training tokens the service bills:
per message 3 tokens of framing plus every string value encoded (nested ones too: content parts,
tool calls), 1 more for a `name`; per example 1 more (EXAMPLE_TOKENS). OpenAI's cookbook adds 3
per example instead, to prime the reply of a chat request; a training example already holds its
reply, and the one billed job on record (the Ruby client's sarcastic.jsonl, 10 examples x 10
epochs: trained_tokens 5070) is exactly this count, 2 per example under the cookbook's. A
preference (DPO) example counts its input messages and both outputs, a reinforcement example its
messages (reinforcement is billed by training time; the count is for the limit and the report).
An image part counts only the strings of its JSON: the service bills an image by its size and
detail, which an offline count cannot know without fetching it.
Error categories use the cookbook's names where it has one (`data_type`, `missing_messages_list`,
`message_missing_key`, `message_unrecognized_key`, `unrecognized_role`, `missing_content`,
`example_missing_assistant_message`); the rest are ftctl's own, listed in CATEGORIES.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Encode = Callable[[str], list[int]]

CHAT = "chat"
PREFERENCE = "preference"
REINFORCEMENT = "reinforcement"
PROMPT_COMPLETION = "prompt_completion"

# The fine-tuning method each data format trains with.
FORMAT_METHOD: dict[str, str] = {
    CHAT: "supervised",
    PROMPT_COMPLETION: "supervised",
    PREFERENCE: "dpo",
    REINFORCEMENT: "reinforcement",
}

EXAMPLE_TOKENS = 1  # billed per training example beyond its messages (see above)

CATEGORIES: dict[str, str] = {
    "invalid_json": "the line is not valid JSON",
    "data_type": "the example is not a JSON object",
    "unknown_format": "neither chat (`messages`), preference (`input`) nor prompt/completion",
    "mixed_format": "the example's format differs from the file's first example",
    "missing_messages_list": "`messages` is missing, empty or not a list",
    "message_missing_key": "a message lacks `role` or `content`",
    "message_unrecognized_key": "a message has a key the service does not accept",
    "unrecognized_role": "a role other than system, developer, user, assistant, tool, function",
    "missing_content": "content is empty, or not a string or list of parts",
    "invalid_content_part": "a content part is not a valid text or image part",
    "invalid_name": "`name` must match ^[a-zA-Z0-9_-]+$ (a function message needs one)",
    "invalid_weight": "`weight` must be 0 or 1, on assistant messages only",
    "invalid_tool_calls": "`tool_calls` must be a list of function calls with id, name, arguments",
    "invalid_function_call": "`function_call` must have string `name` and `arguments`",
    "invalid_tool_message": "a tool message needs a `tool_call_id` string",
    "invalid_tools": "`tools` / `functions` must be a list of objects",
    "example_missing_assistant_message": "no assistant message to learn from",
    "reinforcement_last_message": (
        "a reinforcement example's last message must be a user turn (the model writes the answer)"
    ),
    "invalid_preference_input": "`input` must be an object with a `messages` list",
    "invalid_preferred_output": (
        "`preferred_output` must be a list of exactly one assistant message"
    ),
    "invalid_non_preferred_output": (
        "`non_preferred_output` must be a list of exactly one assistant message"
    ),
    "invalid_prompt_completion": "`prompt` and `completion` must be strings",
    "empty_completion": "`completion` is empty",
    "too_few_examples": "the service needs at least 10 examples",
    "wrong_format_for_model": "the model does not train on this data format",
    "model_not_tunable": "the model is retired or cannot be fine-tuned",
    "method_not_offered": "the model does not offer the data's method (supervised, dpo, ...)",
    "grader_field_missing": "a field the grader reads (`{{item.x}}`) is not in the line",
    "wrong_method_for_data": "the method asked for is not the one the data trains with",
}

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal"}
)
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
_IMAGE_DETAILS = frozenset({"auto", "low", "high"})


@dataclass(frozen=True)
class Issue:
    category: str
    field: str | None
    message: str


@dataclass
class RecordResult:
    issues: list[Issue] = field(default_factory=list)
    tokens: int = 0
    assistant_tokens: int = 0
    messages: int = 0


def record_format(obj: object) -> str | None:
    """The data format of one parsed line, or None when it has none of the known keys. A line
    with `messages` is chat; whether it is reinforcement data is the method's choice (a grader
    given), not the line's: see check_record."""
    if not isinstance(obj, dict):
        return None
    if "messages" in obj:
        return CHAT
    if "input" in obj or "preferred_output" in obj or "non_preferred_output" in obj:
        return PREFERENCE
    if "prompt" in obj or "completion" in obj:
        return PROMPT_COMPLETION
    return None


class TokenCounter:
    """Counts tokens of string values with one encoder, caching the few short strings that repeat
    (roles, types) so long files are not dominated by call overhead."""

    def __init__(self, encode: Encode, count: Callable[[str], int] | None = None) -> None:
        """count, when given, is len(encode(text)) computed faster (ftctl.tokens.WordCounter)."""
        self._encode = encode
        self._count = count if count is not None else lambda text: len(encode(text))
        self._cache: dict[str, int] = {}

    def text(self, value: str) -> int:
        if len(value) <= 16:
            cached = self._cache.get(value)
            if cached is None:
                cached = len(self._encode(value))
                if len(self._cache) < 4096:
                    self._cache[value] = cached
            return cached
        return self._count(value)

    def value(self, value: object) -> int:
        """Tokens of every string inside value (dict keys excluded)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return sum(self.value(v) for v in value.values())
        if isinstance(value, list):
            return sum(self.value(v) for v in value)
        return 0

    def messages(self, messages: list[Any]) -> int:
        return self.messages_and_assistant(messages)[0]

    def messages_and_assistant(self, messages: list[Any]) -> tuple[int, int]:
        """(tokens of the messages the cookbook's way, tokens of assistant contents), each
        string encoded once."""
        total = assistant = 0
        text = self.text
        for message in messages:
            total += 3
            if not isinstance(message, dict):
                continue
            is_assistant = message.get("role") == "assistant"
            for key, value in message.items():
                if isinstance(value, str):
                    n = text(value)
                    if is_assistant and key == "content":
                        assistant += n
                else:
                    n = self.value(value)
                    if is_assistant and key == "content":
                        assistant += self.content(value)
                total += n
                if key == "name":
                    total += 1
        return total, assistant

    def content(self, content: object) -> int:
        """Tokens of a message's content: the string, or the text of its text parts."""
        if isinstance(content, str):
            return self.text(content)
        if isinstance(content, list):
            return sum(
                self.text(p["text"])
                for p in content
                if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        return 0


def _check_content_parts(parts: list[Any], role: object, issues: list[Issue], where: str) -> None:
    if not parts:
        issues.append(Issue("missing_content", where, "content is an empty list"))
        return
    for j, part in enumerate(parts):
        at = f"{where}[{j}]"
        if not isinstance(part, dict):
            issues.append(Issue("invalid_content_part", at, "a content part must be an object"))
            continue
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                issues.append(
                    Issue("invalid_content_part", at, "a text part needs a `text` string")
                )
        elif kind == "image_url":
            image = part.get("image_url")
            if role != "user":
                issues.append(
                    Issue("invalid_content_part", at, "images are allowed in user messages only")
                )
            elif not isinstance(image, dict) or not isinstance(image.get("url"), str):
                issues.append(
                    Issue("invalid_content_part", at, "an image part needs `image_url.url`")
                )
            elif "detail" in image and image["detail"] not in _IMAGE_DETAILS:
                issues.append(
                    Issue("invalid_content_part", at, "`detail` must be auto, low or high")
                )
        else:
            issues.append(Issue("invalid_content_part", at, f"unknown content part type {kind!r}"))


def _check_tool_calls(calls: object, issues: list[Issue], where: str) -> None:
    if not isinstance(calls, list) or not calls:
        issues.append(Issue("invalid_tool_calls", where, "must be a non-empty list"))
        return
    for j, call in enumerate(calls):
        at = f"{where}[{j}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(call.get("id"), str):
            issues.append(Issue("invalid_tool_calls", at, "a tool call needs an `id` string"))
        elif call.get("type", "function") != "function":
            issues.append(Issue("invalid_tool_calls", at, "`type` must be 'function'"))
        elif (
            not isinstance(fn, dict)
            or not isinstance(fn.get("name"), str)
            or not isinstance(fn.get("arguments"), str)
        ):
            issues.append(
                Issue(
                    "invalid_tool_calls",
                    at,
                    "`function` needs `name` and `arguments` strings (arguments as JSON text)",
                )
            )


def check_messages(
    messages: object,
    issues: list[Issue],
    where: str = "messages",
    *,
    need_assistant: bool = True,
) -> bool:
    """Append the issues of a message list; True when it has an assistant message."""
    if not isinstance(messages, list) or not messages:
        issues.append(Issue("missing_messages_list", where, "must be a non-empty list of messages"))
        return False
    has_assistant = False
    for i, message in enumerate(messages):
        at = f"{where}[{i}]"
        if not isinstance(message, dict):
            issues.append(Issue("data_type", at, "a message must be a JSON object"))
            continue
        role = message.get("role")
        if "role" not in message:
            issues.append(Issue("message_missing_key", at, "missing `role`"))
        elif role not in ROLES:
            issues.append(Issue("unrecognized_role", f"{at}.role", f"unknown role {role!r}"))
        unknown = [k for k in message if k not in MESSAGE_KEYS]
        if unknown:
            issues.append(
                Issue("message_unrecognized_key", at, f"unrecognized key(s) {', '.join(unknown)}")
            )
        if role == "assistant":
            has_assistant = True
        calls = "tool_calls" in message or "function_call" in message
        if "content" not in message and not (role == "assistant" and calls):
            issues.append(Issue("message_missing_key", at, "missing `content`"))
        else:
            content = message.get("content")
            if isinstance(content, list):
                _check_content_parts(content, role, issues, f"{at}.content")
            elif content is None:
                if not (role == "assistant" and calls):
                    issues.append(Issue("missing_content", f"{at}.content", "content is null"))
            elif not isinstance(content, str):
                issues.append(
                    Issue(
                        "missing_content",
                        f"{at}.content",
                        "content must be a string or a list of parts",
                    )
                )
            elif not content and not (role == "assistant" and calls):
                issues.append(Issue("missing_content", f"{at}.content", "content is empty"))
        if "name" in message:
            name = message["name"]
            if not isinstance(name, str) or not _NAME_RE.match(name):
                issues.append(Issue("invalid_name", f"{at}.name", "must match ^[a-zA-Z0-9_-]+$"))
        elif role == "function":
            issues.append(Issue("invalid_name", f"{at}.name", "a function message needs a `name`"))
        if "weight" in message:
            weight = message["weight"]
            if role != "assistant":
                issues.append(
                    Issue("invalid_weight", f"{at}.weight", "only assistant messages take a weight")
                )
            elif isinstance(weight, bool) or weight not in (0, 1):
                issues.append(Issue("invalid_weight", f"{at}.weight", "must be 0 or 1"))
        if "tool_calls" in message:
            if role != "assistant":
                issues.append(
                    Issue("invalid_tool_calls", f"{at}.tool_calls", "only assistant messages call")
                )
            else:
                _check_tool_calls(message["tool_calls"], issues, f"{at}.tool_calls")
        if "function_call" in message:
            fc = message["function_call"]
            if (
                role != "assistant"
                or not isinstance(fc, dict)
                or not isinstance(fc.get("name"), str)
                or not isinstance(fc.get("arguments"), str)
            ):
                issues.append(
                    Issue(
                        "invalid_function_call",
                        f"{at}.function_call",
                        "an assistant `function_call` needs `name` and `arguments` strings",
                    )
                )
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            issues.append(Issue("invalid_tool_message", at, "missing `tool_call_id`"))
    if need_assistant and not has_assistant:
        issues.append(Issue("example_missing_assistant_message", where, "no assistant message"))
    return has_assistant


def _check_tools(example: dict[str, Any], issues: list[Issue]) -> None:
    for key in ("tools", "functions"):
        if key in example and (
            not isinstance(example[key], list) or not all(isinstance(t, dict) for t in example[key])
        ):
            issues.append(Issue("invalid_tools", key, "must be a list of objects"))


def _assistant_tokens(messages: object, counter: TokenCounter) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(
        counter.content(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role") == "assistant"
    )


def _check_output(value: object, key: str, issues: list[Issue]) -> None:
    category = f"invalid_{key}"
    if not isinstance(value, list) or len(value) != 1:
        issues.append(Issue(category, key, "must be a list of exactly one assistant message"))
        return
    message = value[0]
    if not isinstance(message, dict) or message.get("role") != "assistant":
        issues.append(Issue(category, f"{key}[0]", "must be an assistant message"))
        return
    check_messages(value, issues, key)


def check_record(obj: object, fmt: str, counter: TokenCounter | None) -> RecordResult:
    """Issues and token counts of one parsed example whose file format is fmt."""
    result = RecordResult()
    issues = result.issues
    if not isinstance(obj, dict):
        issues.append(Issue("data_type", None, "each line must be a JSON object"))
        return result
    own = record_format(obj)
    if own is None:
        issues.append(
            Issue(
                "unknown_format",
                None,
                "expected `messages` (chat), `input` (preference) or `prompt`/`completion`",
            )
        )
        return result
    if own != fmt and not (fmt == REINFORCEMENT and own == CHAT):
        issues.append(Issue("mixed_format", None, f"a {own} example in a {fmt} file"))
        return result
    if fmt == REINFORCEMENT:
        messages = obj.get("messages")
        check_messages(messages, issues, need_assistant=False)
        _check_tools(obj, issues)
        if isinstance(messages, list) and messages:
            last = messages[-1]
            if not isinstance(last, dict) or last.get("role") != "user":
                issues.append(
                    Issue(
                        "reinforcement_last_message",
                        f"messages[{len(messages) - 1}]",
                        "the last message must be a user turn (no final assistant message: "
                        "the model writes the answer the grader scores)",
                    )
                )
        if isinstance(messages, list):
            result.messages = len(messages)
            if counter is not None:
                extra = sum(counter.value(obj[k]) for k in ("tools", "functions") if k in obj)
                result.tokens = counter.messages(messages) + EXAMPLE_TOKENS + extra
    elif fmt == CHAT:
        messages = obj.get("messages")
        check_messages(messages, issues)
        _check_tools(obj, issues)
        if isinstance(messages, list):
            result.messages = len(messages)
            if counter is not None:
                tokens, assistant = counter.messages_and_assistant(messages)
                extra = sum(counter.value(obj[k]) for k in ("tools", "functions") if k in obj)
                result.tokens = tokens + EXAMPLE_TOKENS + extra
                result.assistant_tokens = assistant
    elif fmt == PREFERENCE:
        inp = obj.get("input")
        in_messages = inp.get("messages") if isinstance(inp, dict) else None
        if not isinstance(inp, dict):
            issues.append(
                Issue("invalid_preference_input", "input", "must be an object with `messages`")
            )
        else:
            check_messages(in_messages, issues, "input.messages", need_assistant=False)
            _check_tools(inp, issues)
        preferred = obj.get("preferred_output")
        non_preferred = obj.get("non_preferred_output")
        _check_output(preferred, "preferred_output", issues)
        _check_output(non_preferred, "non_preferred_output", issues)
        parts = [m for m in (in_messages, preferred, non_preferred) if isinstance(m, list)]
        result.messages = sum(len(m) for m in parts)
        if counter is not None:
            result.tokens = sum(counter.messages(m) for m in parts) + EXAMPLE_TOKENS
            if isinstance(inp, dict):
                result.tokens += sum(
                    counter.value(inp[k]) for k in ("tools", "functions") if k in inp
                )
            result.assistant_tokens = _assistant_tokens(preferred, counter)
    else:
        prompt = obj.get("prompt", "")
        completion = obj.get("completion")
        if not isinstance(prompt, str):
            issues.append(Issue("invalid_prompt_completion", "prompt", "must be a string"))
        if not isinstance(completion, str):
            issues.append(Issue("invalid_prompt_completion", "completion", "must be a string"))
        elif not completion:
            issues.append(Issue("empty_completion", "completion", "is empty"))
        result.messages = 0
        if counter is not None:
            p = counter.text(prompt) if isinstance(prompt, str) else 0
            c = counter.text(completion) if isinstance(completion, str) else 0
            result.tokens = p + c
            result.assistant_tokens = c
    return result


def reinforcement_item(obj: dict[str, Any]) -> dict[str, Any]:
    """The item a grader reads for one reinforcement example: its top-level fields but the
    conversation (`{{item.answer}}` is the line's `answer`)."""
    return {k: v for k, v in obj.items() if k != "messages"}


def issue_text(issue: Issue) -> str:
    """`field: message`, or the message alone for an issue of the whole line."""
    return f"{issue.field}: {issue.message}" if issue.field else issue.message
