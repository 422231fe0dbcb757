"""`ftctl prepare --grader` on reinforcement data, and the method a model offers, checked before
anything is uploaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ftctl.prepare import check_training_file
from tests.support.cli import RunCli
from tests.support.respx_api import Api

QUESTION = {"role": "user", "content": "What is the capital of France?"}
LINE = {"messages": [{"role": "developer", "content": "One word."}, QUESTION], "answer": "Paris"}
STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_text }}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def write_grader(path: Path, grader: object) -> Path:
    path.write_text(json.dumps(grader), encoding="utf-8")
    return path


def test_good_reinforcement_data_is_usable(run_cli: RunCli, tmp_path: Path) -> None:
    data = write_lines(tmp_path / "rft.jsonl", [LINE] * 12)
    grader = write_grader(tmp_path / "grader.json", STRING_CHECK)
    result = run_cli("prepare", "--json", "-f", str(data), "--grader", str(grader))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["format"], report["method"], report["model"]) == (
        "reinforcement",
        "reinforcement",
        "o4-mini-2025-04-16",
    )
    assert report["problems"] == []
    assert report["tokens"]["total"] > 0
    # billed by training time, not tokens: no token bill, no token cost
    assert (report["billed_tokens"], report["estimated_cost_usd"]) == (0, None)
    text = run_cli("prepare", "-f", str(data), "--grader", str(grader))
    assert text.exit_code == 0
    assert f'ftctl create -t "{data}" -m o4-mini-2025-04-16 --grader "{grader}"' in text.stdout
    assert "- Reinforcement is billed by training time" in text.stdout
    assert "charged for" not in text.stdout and "Estimated cost" not in text.stdout


def test_lines_without_a_field_the_grader_reads_are_named(run_cli: RunCli, tmp_path: Path) -> None:
    without = {"messages": [QUESTION], "meta": {"level": 1}}
    lines = [{**LINE, "meta": {"level": 2}}] * 12
    lines[2] = without
    lines[6] = {**without, "answer": "Paris", "meta": {}}
    data = write_lines(tmp_path / "rft.jsonl", lines)
    multi = {
        "type": "multi",
        "name": "both",
        "graders": {
            "exact": STRING_CHECK,
            "level": {
                "type": "string_check",
                "name": "level",
                "input": "{{sample.output_json.level}}",
                "reference": "{{ item.meta.level }}",
                "operation": "eq",
            },
        },
        "calculate_output": "exact * level",
    }
    grader = write_grader(tmp_path / "grader.json", multi)
    result = run_cli("prepare", "--json", "-f", str(data), "--grader", str(grader))
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["errors"] == {"grader_field_missing": 2}
    assert report["problems"] == [
        f"{data}:3: item.answer: the grader reads {{{{item.answer}}}} (graders.exact.reference); "
        "this line has no `answer` [grader_field_missing]",
        f"{data}:7: item.meta.level: the grader reads {{{{ item.meta.level }}}} "
        "(graders.level.reference); this line has no `meta.level` [grader_field_missing]",
    ]
    assert f"{data}:3: item.answer" in result.stderr  # listed on stderr too


def test_a_final_assistant_message_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    lines = [LINE] * 12
    lines[4] = {**LINE, "messages": [QUESTION, {"role": "assistant", "content": "Paris"}]}
    data = write_lines(tmp_path / "rft.jsonl", lines)
    grader = write_grader(tmp_path / "grader.json", STRING_CHECK)
    result = run_cli("prepare", "--json", "-f", str(data), "--grader", str(grader))
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["errors"] == {"reinforcement_last_message": 1}
    assert report["problems"][0].startswith(f"{data}:5: messages[1]: the last message must be")


@pytest.mark.parametrize(
    ("grader", "message"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "a grader must be a JSON object, not list"),
        ({"name": "x"}, "a grader needs a `type`"),
        ({**STRING_CHECK, "operation": "equals"}, "Invalid value: 'equals'"),
        (
            {**STRING_CHECK, "input": "{{sample.text}}"},
            "{{sample.text}}: the sample namespace has choices, output_audio, "
            "output_json, output_text, output_tools",
        ),
        (
            {**STRING_CHECK, "reference": "{{answer}}"},
            "{{answer}}: unknown namespace 'answer' (use item or sample)",
        ),
    ],
)
def test_a_bad_grader_file_is_named(
    run_cli: RunCli, tmp_path: Path, grader: object, message: str
) -> None:
    data = write_lines(tmp_path / "rft.jsonl", [LINE] * 12)
    path = tmp_path / "grader.json"
    if isinstance(grader, str):
        path.write_text(grader, encoding="utf-8")
    else:
        write_grader(path, grader)
    result = run_cli("prepare", "-f", str(data), "--grader", str(path))
    assert result.exit_code == 2
    assert f"{path}" in result.stderr and message in result.stderr


def test_chat_data_for_a_reinforcement_model_says_to_give_a_grader(
    run_cli: RunCli, tmp_path: Path
) -> None:
    chat = {"messages": [QUESTION, {"role": "assistant", "content": "Paris"}]}
    data = write_lines(tmp_path / "chat.jsonl", [chat] * 12)
    result = run_cli("prepare", "--json", "-f", str(data), "-m", "o4-mini")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["errors"] == {"method_not_offered": 1}
    assert report["problems"] == [
        f"{data}: chat data trains with the supervised method, which o4-mini does not offer; "
        "supervised runs on gpt-4.1-2025-04-14, gpt-4.1-mini-2025-04-14, gpt-4.1-nano-2025-04-14, "
        "gpt-4o-2024-08-06, gpt-4o-mini-2024-07-18, gpt-3.5-turbo-0125, gpt-3.5-turbo-1106, "
        "davinci-002, babbage-002; for reinforcement, give the grader with --grader FILE "
        "[method_not_offered]"
    ]


def test_reinforcement_data_for_a_model_without_it(run_cli: RunCli, tmp_path: Path) -> None:
    data = write_lines(tmp_path / "rft.jsonl", [LINE] * 12)
    grader = write_grader(tmp_path / "grader.json", STRING_CHECK)
    result = run_cli(
        "prepare", "--json", "-f", str(data), "--grader", str(grader), "-m", "gpt-4o-mini"
    )
    assert result.exit_code == 2
    problem = json.loads(result.stdout)["problems"][0]
    assert problem.endswith(
        "reinforcement data trains with the reinforcement method, which gpt-4o-mini does not "
        "offer; reinforcement runs on o4-mini-2025-04-16 [method_not_offered]"
    )


def test_check_training_file_follows_the_data_or_the_method(tmp_path: Path) -> None:
    """What `create` runs before uploading: the method from the data, a grader, or a flag."""
    rft = write_lines(tmp_path / "rft.jsonl", [LINE] * 12)
    grader = write_grader(tmp_path / "grader.json", STRING_CHECK)
    check = check_training_file(rft, "o4-mini", grader=grader)
    assert (check.format, check.method, check.problems) == ("reinforcement", "reinforcement", [])
    pref = {
        "input": {"messages": [QUESTION]},
        "preferred_output": [{"role": "assistant", "content": "Paris"}],
        "non_preferred_output": [{"role": "assistant", "content": "Lyon"}],
    }
    dpo = write_lines(tmp_path / "dpo.jsonl", [pref] * 12)
    assert check_training_file(dpo, "gpt-4.1-mini").method == "dpo"
    chat = {"messages": [QUESTION, {"role": "assistant", "content": "Paris"}]}
    sft = write_lines(tmp_path / "sft.jsonl", [chat] * 12)
    refused = check_training_file(sft, "gpt-4.1-mini", method="dpo")
    assert refused.problems == [
        f"{sft}:1: chat data trains with the supervised method, not dpo [wrong_method_for_data]"
    ]


def test_create_refuses_a_method_the_model_does_not_offer_before_uploading(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    pref = {
        "input": {"messages": [QUESTION]},
        "preferred_output": [{"role": "assistant", "content": "Paris"}],
        "non_preferred_output": [{"role": "assistant", "content": "Lyon"}],
    }
    data = write_lines(tmp_path / "dpo.jsonl", [pref] * 12)
    result = run_cli("create", "-t", str(data), "-m", "gpt-3.5-turbo-0125", "--yes")
    assert result.exit_code == 2
    assert "which gpt-3.5-turbo-0125 does not offer; dpo runs on gpt-4.1-2025-04-14" in (
        result.stderr
    )
    assert "nothing was uploaded" in result.stderr
    api.assert_no_requests()
