"""The cookbook's chat-data check ("Data preparation and analysis for chat model fine-tuning"),
as a plain one-process script with tiktoken: load the file, check formats, count tokens.

Usage: python cookbook_chat.py FILE ENCODING  -> prints {"examples", "errors", "total_tokens"}.
tiktoken fetches its rank files on first use; the bench points TIKTOKEN_CACHE_DIR at a cache it
fills from the bundled, hash-checked copies, so this runs offline.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import tiktoken


def main() -> None:
    data_path, encoding_name = sys.argv[1], sys.argv[2]
    encoding = tiktoken.get_encoding(encoding_name)

    with open(data_path, encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f]

    format_errors: dict[str, int] = defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(
                k not in ("role", "content", "name", "function_call", "weight") for k in message
            ):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            format_errors["example_missing_assistant_message"] += 1

    def num_tokens_from_messages(
        messages: list[dict[str, str]], tokens_per_message: int = 3, tokens_per_name: int = 1
    ) -> int:
        num_tokens = 0
        for message in messages:
            num_tokens += tokens_per_message
            for key, value in message.items():
                num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += tokens_per_name
        num_tokens += 3
        return num_tokens

    def num_assistant_tokens_from_messages(messages: list[dict[str, str]]) -> int:
        num_tokens = 0
        for message in messages:
            if message["role"] == "assistant":
                num_tokens += len(encoding.encode(message["content"]))
        return num_tokens

    n_messages = []
    convo_lens = []
    assistant_message_lens = []
    for ex in dataset:
        messages = ex["messages"]
        n_messages.append(len(messages))
        convo_lens.append(num_tokens_from_messages(messages))
        assistant_message_lens.append(num_assistant_tokens_from_messages(messages))

    print(
        json.dumps(
            {
                "examples": len(dataset),
                "errors": dict(format_errors),
                "total_tokens": sum(convo_lens),
                "max_example": max(convo_lens),
                "assistant_tokens": sum(assistant_message_lens),
            }
        )
    )


if __name__ == "__main__":
    main()
