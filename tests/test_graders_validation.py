"""Grader validation: good graders of every type pass; a broken one is refused naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ftctl.graders.validation import GraderError, python_syntax_error, validate_grader

STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
SIMILARITY = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "evaluation_metric": "rouge_l",
    "pass_threshold": 0.8,
}
PYTHON = {
    "type": "python",
    "name": "py",
    "image_tag": "2025-05-08",
    "source": "def grade(sample, item):\n    return float(sample['output_text'] == item['a'])\n",
}
SCORE = {
    "type": "score_model",
    "name": "judge",
    "model": "gpt-4o-mini",
    "input": [
        {"role": "system", "content": "Score it."},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "{{item.answer}} / {{sample.output_text}}"},
                {"type": "input_image", "image_url": "{{item.image}}", "detail": "low"},
                {"type": "input_audio", "input_audio": {"data": "{{item.clip}}", "format": "mp3"}},
            ],
        },
    ],
    "range": [0, 5],
    "sampling_params": {"temperature": 1, "seed": 42, "reasoning_effort": "low"},
}
LABEL = {
    "type": "label_model",
    "name": "verdict",
    "model": "gpt-4o-mini",
    "input": [
        {"role": "user", "content": {"type": "input_text", "text": "{{sample.output_text}}"}}
    ],
    "labels": ["yes", "no"],
    "passing_labels": ["yes"],
}
MULTI = {
    "type": "multi",
    "name": "all",
    "graders": {"exact": STRING_CHECK, "close": SIMILARITY, "py": PYTHON, "verdict": LABEL},
    "calculate_output": "0.25 * exact + 0.25 * close + 0.25 * py + 0.25 * verdict",
}


@pytest.mark.parametrize("grader", [STRING_CHECK, SIMILARITY, PYTHON, SCORE, MULTI])
def test_good_graders_pass(grader: dict[str, Any]) -> None:
    validate_grader(grader)


def test_multi_takes_the_single_grader_form_of_the_openapi_text() -> None:
    validate_grader(
        {"type": "multi", "name": "m", "graders": STRING_CHECK, "calculate_output": "exact"}
    )


def broken(base: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    grader = copy.deepcopy(base)
    target: Any = grader
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return grader


CASES = [
    (STRING_CHECK, ["operation"], "eqq", "grader.operation", "Invalid value: 'eqq'."),
    (STRING_CHECK, ["reference"], KeyError, "grader.reference", "Missing required parameter"),
    (STRING_CHECK, ["input"], 3, "grader.input", "expected a string, but got an integer"),
    (STRING_CHECK, ["extra"], 1, "grader.extra", "Unknown parameter: 'grader.extra'."),
    (STRING_CHECK, ["name"], KeyError, "grader.name", "Missing required parameter"),
    (STRING_CHECK, ["type"], "regex", "grader.type", "Supported values are"),
    (STRING_CHECK, ["input"], "{{ answer }}", "grader.input", "unknown namespace 'answer'"),
    (SIMILARITY, ["evaluation_metric"], "rouge_9", "grader.evaluation_metric", "'rouge_l'"),
    (SIMILARITY, ["pass_threshold"], "high", "grader.pass_threshold", "expected a number"),
    (PYTHON, ["source"], "def grade(:\n", "grader.source", "line 1: invalid syntax"),
    (PYTHON, ["source"], "def score(s, i): return 1\n", "grader.source", "define a function"),
    (SCORE, ["range"], [1, 0], "grader.range", "must be below the maximum"),
    (SCORE, ["range"], [0, 1, 2], "grader.range", "two numbers"),
    (SCORE, ["input"], [], "grader.input", "empty array"),
    (SCORE, ["input", 0, "role"], "judge", "grader.input[0].role", "'developer'"),
    (SCORE, ["input", 1, "content", 0, "type"], "text", "grader.input[1].content[0].type", ""),
    (
        SCORE,
        ["input", 1, "content", 2, "input_audio", "format"],
        "ogg",
        "grader.input[1].content[2].input_audio.format",
        "'mp3', and 'wav'",
    ),
    (SCORE, ["sampling_params", "top_k"], 3, "grader.sampling_params.top_k", "Unknown parameter"),
    (
        SCORE,
        ["sampling_params", "max_completions_tokens"],
        0,
        "grader.sampling_params.max_completions_tokens",
        "integer below minimum value",
    ),
    (SCORE, ["model"], KeyError, "grader.model", "Missing required parameter"),
    (MULTI, ["calculate_output"], "exact + nope", "grader.calculate_output", "'nope' is not"),
    (MULTI, ["calculate_output"], "exact +", "grader.calculate_output", "cannot parse"),
    (MULTI, ["calculate_output"], "exact.__class__", "grader.calculate_output", "cannot parse"),
    (
        MULTI,
        ["graders", "exact", "operation"],
        "is",
        "grader.graders.exact.operation",
        "Invalid value: 'is'.",
    ),
    (
        MULTI,
        ["graders", "verdict", "passing_labels"],
        ["maybe"],
        "grader.graders.verdict.passing_labels[0]",
        "subset of labels",
    ),
    (MULTI, ["graders", "nested"], MULTI, "grader.graders.nested.type", "Invalid value: 'multi'"),
    (MULTI, ["graders", "bad name"], STRING_CHECK, "grader.graders.bad name", "variable name"),
    (MULTI, ["graders"], {}, "grader.graders", "at least one grader"),
]


@pytest.mark.parametrize(("base", "path", "value", "param", "message"), CASES)
def test_broken_graders_are_refused_naming_the_field(
    base: dict[str, Any], path: list[str | int], value: Any, param: str, message: str
) -> None:
    with pytest.raises(GraderError) as caught:
        validate_grader(broken(base, path, value))
    assert caught.value.param == param
    assert message in caught.value.message


def test_label_model_is_taken_only_inside_a_multi_grader() -> None:
    with pytest.raises(GraderError, match="Invalid value: 'label_model'"):
        validate_grader(LABEL)


def test_a_grader_must_be_an_object() -> None:
    with pytest.raises(GraderError) as caught:
        validate_grader(["string_check"])
    assert caught.value.message == (
        "Invalid type for 'grader': expected an object, but got an array instead."
    )


def test_python_syntax_check_survives_hostile_source() -> None:
    nested = "x = " + "(" * 10_000 + ")" * 10_000 + "\n"
    assert python_syntax_error(nested) == "line 1: too many nested parentheses"
    deep = "def grade(s, i):\n    return " + "-" * 200_000 + "1\n"
    assert python_syntax_error(deep) == "the source is nested too deeply to compile"
    chain = "def grade(s, i):\n    return 1" + "+1" * 100_000 + "\n"
    assert python_syntax_error(chain) == "the source is nested too deeply to compile"
    assert "longer than" in str(python_syntax_error("#" * (300 * 1024)))
