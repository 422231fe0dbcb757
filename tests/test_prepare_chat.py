"""`ftctl prepare` on chat and preference (DPO) data, and `check_training_file` for `create`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ftctl.cli.app import app
from ftctl.errors import InputError
from ftctl.prepare import UploadCheck, check_training_file
from ftctl.tokens import get_encoding

DATA = Path(__file__).parent / "data" / "prepare"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["prepare", *args], catch_exceptions=False)


def report(*args: str) -> tuple[int, dict[str, Any]]:
    result = run("--json", *args)
    return result.exit_code, json.loads(result.stdout)


def training_tokens(path: Path, encoding: str) -> list[int]:
    """The billed count (3 per message, 1 per name, 1 per example: the cookbook's, less the 2 the
    service does not bill), over every string value, with tiktoken's encoder, independently of
    ftctl's counting code."""
    enc = get_encoding(encoding)

    def strings(value: object) -> int:
        if isinstance(value, str):
            return len(enc.encode_ordinary(value))
        if isinstance(value, dict):
            return sum(strings(v) for v in value.values())
        if isinstance(value, list):
            return sum(strings(v) for v in value)
        return 0

    counts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        total = 1
        for message in example["messages"]:
            total += 3 + sum(strings(v) for v in message.values())
            total += 1 if "name" in message else 0
        total += strings(example.get("tools", []))
        counts.append(total)
    return counts


def test_valid_chat_data_is_usable_with_exact_tokens() -> None:
    path = DATA / "chat_ok.jsonl"
    code, data = report("-f", str(path), "-m", "gpt-4o-mini-2024-07-18")
    assert code == 0
    expected = training_tokens(path, "o200k_base")
    assert data["format"] == "chat"
    assert data["examples"] == 12
    assert data["errors"] == {}
    assert data["encoding"] == "o200k_base"
    assert data["tokens"]["total"] == sum(expected)
    assert data["tokens"]["max_example"] == max(expected)
    assert data["tokens"]["over_limit"] == 0
    assert data["n_epochs"] == 8  # 100 // 12
    assert data["billed_tokens"] == 8 * sum(expected)
    assert data["estimated_cost_usd"] == round(8 * sum(expected) * 3.0 / 1e6, 4)
    assert data["model"] == "gpt-4o-mini-2024-07-18"
    assert set(data["distributions"]) == {
        "messages_per_example",
        "tokens_per_example",
        "assistant_tokens_per_example",
    }


def test_encoding_follows_the_model() -> None:
    path = DATA / "chat_ok.jsonl"
    _, data = report("-f", str(path), "-m", "gpt-3.5-turbo-0125")
    assert data["encoding"] == "cl100k_base"
    assert data["tokens"]["total"] == sum(training_tokens(path, "cl100k_base"))
    assert data["tokens"]["limit"] == 16_385
    assert data["estimated_cost_usd"] == round(data["billed_tokens"] * 8.0 / 1e6, 4)


def test_every_error_category_is_counted_with_its_first_line(tmp_path: Path) -> None:
    path = DATA / "chat_bad.jsonl"
    result = run("--json", "-f", str(path))
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["usable"] is False
    assert data["errors"] == {
        "data_type": 1,
        "missing_messages_list": 1,
        "message_missing_key": 1,
        "message_unrecognized_key": 1,
        "unrecognized_role": 1,
        "missing_content": 1,
        "example_missing_assistant_message": 1,
        "invalid_name": 1,
        "invalid_weight": 1,
        "invalid_tool_calls": 1,
        "invalid_content_part": 1,
        "invalid_json": 1,
        "mixed_format": 1,
    }
    expected_lines = {
        "data_type": 11,
        "missing_messages_list": 12,
        "message_missing_key": 13,
        "message_unrecognized_key": 14,
        "unrecognized_role": 15,
        "missing_content": 16,
        "example_missing_assistant_message": 17,
        "invalid_name": 18,
        "invalid_weight": 19,
        "invalid_tool_calls": 20,
        "invalid_content_part": 21,
        "invalid_json": 22,
        "mixed_format": 23,
    }
    for category, line in expected_lines.items():
        assert any(
            p.startswith(f"{path}:{line}: ") and p.endswith(f"[{category}]")
            for p in data["problems"]
        ), category
    # one line per problem on stderr, then the summary
    assert f"{path}:23: a prompt_completion example in a chat file [mixed_format]" in result.stderr
    assert "the service would reject this data" in result.stderr
    assert "Traceback" not in result.output


def test_text_report_lists_categories() -> None:
    result = run("-f", str(DATA / "chat_bad.jsonl"))
    assert result.exit_code == 2
    assert "- Found errors:" in result.stdout
    assert "missing_messages_list: 1" in result.stdout
    assert "- Distribution of tokens per example" in result.stdout


def test_mixed_formats_name_the_first_odd_line() -> None:
    code, data = report(str(DATA / "mixed.jsonl"))
    assert code == 2
    assert data["errors"] == {"mixed_format": 1}
    assert data["problems"][0].startswith(f"{DATA / 'mixed.jsonl'}:4: ")


def test_too_few_examples() -> None:
    code, data = report(str(DATA / "chat_few.jsonl"))
    assert code == 2
    assert data["errors"] == {"too_few_examples": 1}


def test_preference_data() -> None:
    code, data = report(str(DATA / "dpo_ok.jsonl"), "-m", "gpt-4.1-mini-2025-04-14")
    assert code == 0, data
    assert data["format"] == "preference"
    assert data["estimated_cost_usd"] == round(data["billed_tokens"] * 5.0 / 1e6, 4)
    code, data = report(str(DATA / "dpo_bad.jsonl"))
    assert code == 2
    assert data["errors"] == {
        "invalid_preferred_output": 1,
        "invalid_non_preferred_output": 1,
        "invalid_preference_input": 1,
    }
    code, data = report(str(DATA / "dpo_ok.jsonl"), "-m", "gpt-3.5-turbo")
    assert code == 2
    assert data["errors"] == {"method_not_offered": 1}
    assert data["problems"][0].endswith(
        ": preference data trains with the dpo method, which gpt-3.5-turbo does not offer; "
        "dpo runs on gpt-4.1-2025-04-14, gpt-4.1-mini-2025-04-14, gpt-4.1-nano-2025-04-14, "
        "gpt-4o-2024-08-06, gpt-4o-mini-2024-07-18 [method_not_offered]"
    )


def test_examples_over_the_limit_are_counted_and_billed_at_the_limit(tmp_path: Path) -> None:
    long_text = "token " * 17_000
    path = tmp_path / "long.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
        for _ in range(11)
    ]
    rows.append(
        {
            "messages": [
                {"role": "user", "content": long_text},
                {"role": "assistant", "content": "a"},
            ]
        }
    )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, data = report(str(path), "-m", "gpt-3.5-turbo")
    assert code == 0  # truncated, not rejected
    tokens = training_tokens(path, "cl100k_base")
    assert data["tokens"]["over_limit"] == 1
    assert data["tokens"]["max_example"] == max(tokens) > 16_385
    assert data["billed_tokens"] == data["n_epochs"] * sum(min(16_385, t) for t in tokens)
    text = run(str(path), "-m", "gpt-3.5-turbo").stdout
    assert "1 examples may be over the 16,385 token limit" in text


def test_price_override_by_flag_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(DATA / "chat_ok.jsonl")
    _, base = report(path)
    _, flagged = report(path, "--price", "10")
    assert flagged["estimated_cost_usd"] == round(base["billed_tokens"] * 10 / 1e6, 4)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"gpt-4o-mini": 1.0}))
    monkeypatch.setenv("FTCTL_PRICES", str(prices))
    _, env = report(path)
    assert env["estimated_cost_usd"] == round(base["billed_tokens"] * 1.0 / 1e6, 4)
    prices.write_text("{oops")
    result = run("--json", path)
    assert result.exit_code == 2
    assert "price file is not valid JSON" in result.stderr


def test_check_training_file_for_create(tmp_path: Path) -> None:
    good = check_training_file(DATA / "chat_ok.jsonl", "gpt-4o-mini-2024-07-18")
    assert isinstance(good, UploadCheck)
    assert good.usable and good.problems == []
    assert good.format == "chat" and good.examples == 12
    assert good.total_tokens == sum(training_tokens(DATA / "chat_ok.jsonl", "o200k_base"))
    assert good.billed_tokens == good.n_epochs * good.total_tokens
    assert good.estimated_cost_usd is not None
    bad = check_training_file(DATA / "chat_bad.jsonl", "gpt-4o-mini-2024-07-18")
    assert not bad.usable
    assert bad.problems[0].startswith(f"{DATA / 'chat_bad.jsonl'}:11: ")
    book = Path(__file__).parent.parent / "fixtures" / "book" / "train_data_prepared.jsonl"
    legacy = check_training_file(book, "davinci-002")
    assert legacy.usable and legacy.format == "prompt_completion" and legacy.examples == 30
    wrong = check_training_file(book, "gpt-4o-mini-2024-07-18")
    assert not wrong.usable
    assert "--to-chat" in wrong.problems[0]
    with pytest.raises(InputError, match=r"missing\.jsonl: no such file"):
        check_training_file(tmp_path / "missing.jsonl", "gpt-4o-mini")


def test_chat_file_is_never_modified(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    shutil.copy(DATA / "chat_ok.jsonl", path)
    before = path.read_bytes()
    result = run("-q", str(path))
    assert result.exit_code == 0
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.jsonl"]
    assert f'> ftctl create -t "{path}" -m gpt-4o-mini-2024-07-18' in result.stdout
