"""The grader engine on each grader type: rewards, error flags, and the RunGraderResponse shape."""

from __future__ import annotations

from typing import Any

import pytest

from ftctl.graders.engine import ERROR_DETAILS, ERROR_FLAGS, run_grader
from ftctl.graders.metrics import METRICS, similarity
from ftctl.graders.sandbox import PythonOutcome


def string_check(operation: str, reference: str = "{{item.answer}}") -> dict[str, Any]:
    return {
        "type": "string_check",
        "name": "answer check",
        "input": "{{sample.output_text}}",
        "reference": reference,
        "operation": operation,
    }


def similarity_grader(metric: str) -> dict[str, Any]:
    return {
        "type": "text_similarity",
        "name": "close",
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
        "evaluation_metric": metric,
    }


def score_model(range_: list[float] | None = None) -> dict[str, Any]:
    grader: dict[str, Any] = {
        "type": "score_model",
        "name": "judge",
        "model": "gpt-4o-mini-2024-07-18",
        "input": [
            {"role": "system", "content": "Score the answer against the reference from 0 to 1."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Reference: {{item.answer}}"},
                    {"type": "input_text", "text": "Answer: {{sample.output_text}}"},
                ],
            },
        ],
    }
    if range_ is not None:
        grader["range"] = range_
    return grader


def label_model() -> dict[str, Any]:
    return {
        "type": "label_model",
        "name": "verdict",
        "model": "gpt-4o-mini",
        "input": [
            {"role": "user", "content": "Is {{sample.output_text}} the same as {{item.answer}}?"}
        ],
        "labels": ["correct", "incorrect"],
        "passing_labels": ["correct"],
    }


ITEM = {"answer": "Paris"}


@pytest.mark.parametrize(
    ("operation", "sample", "reward"),
    [
        ("eq", "Paris", 1.0),
        ("eq", "paris", 0.0),
        ("ne", "London", 1.0),
        ("ne", "Paris", 0.0),
        ("like", "It is Paris.", 1.0),
        ("like", "It is paris.", 0.0),
        ("ilike", "IT IS PARIS.", 1.0),
        ("ilike", "It is Lyon.", 0.0),
    ],
)
def test_string_check_operations(operation: str, sample: str, reward: float) -> None:
    result = run_grader(string_check(operation), ITEM, sample)
    assert result["reward"] == reward
    assert not any(result["metadata"]["errors"][flag] for flag in ERROR_FLAGS)


def test_result_has_the_run_grader_response_shape() -> None:
    result = run_grader(string_check("eq"), ITEM, "Paris")
    assert set(result) == {
        "reward",
        "metadata",
        "sub_rewards",
        "model_grader_token_usage_per_model",
    }
    metadata = result["metadata"]
    assert metadata["name"] == "answer check"
    assert metadata["type"] == "string_check"
    assert set(metadata["errors"]) == set(ERROR_FLAGS) | set(ERROR_DETAILS)
    assert metadata["token_usage"] is None
    assert metadata["sampled_model_name"] is None
    assert isinstance(metadata["execution_time"], float)
    assert result["sub_rewards"] == {}
    assert result["model_grader_token_usage_per_model"] == {}


def test_a_missing_item_field_is_an_invalid_variable_error_not_an_exception() -> None:
    result = run_grader(string_check("eq"), {"label": "Paris"}, "Paris")
    assert result["reward"] == 0.0
    assert result["metadata"]["errors"]["invalid_variable_error"] is True


def test_output_json_fields_are_read_from_a_json_sample() -> None:
    grader = {**string_check("eq"), "input": "{{sample.output_json.city}}"}
    assert run_grader(grader, ITEM, '{"city": "Paris"}')["reward"] == 1.0
    not_json = run_grader(grader, ITEM, "Paris")
    assert not_json["metadata"]["errors"]["sample_parse_error"] is True
    assert not_json["metadata"]["errors"]["invalid_variable_error"] is False
    json_without_it = run_grader(grader, ITEM, '{"country": "France"}')
    assert json_without_it["metadata"]["errors"]["invalid_variable_error"] is True


@pytest.mark.parametrize("metric", METRICS)
def test_text_similarity_is_one_for_a_match_and_zero_for_unrelated_text(metric: str) -> None:
    grader = similarity_grader(metric)
    item = {"answer": "the quick brown fox jumps over the lazy dog"}
    exact = run_grader(grader, item, "the quick brown fox jumps over the lazy dog")["reward"]
    if metric == "meteor":  # METEOR's fragmentation penalty keeps one chunk just below 1
        assert exact == pytest.approx(0.9985, abs=1e-3)
    else:
        assert exact == pytest.approx(1.0)
    assert run_grader(grader, item, "XYZQVK")["reward"] == pytest.approx(0.0, abs=0.01)
    partial = run_grader(grader, item, "the quick brown fox jumps over a cat")["reward"]
    assert 0.0 < partial < 1.0


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("fuzzy_match", 0.52),  # rapidfuzz ratio 52
        ("rouge_1", 0.8),  # 4 of 5 / 4 of 6 unigrams
        ("rouge_2", 0.25),
        ("rouge_l", 0.4),
        ("cosine", 0.8165),
    ],
)
def test_text_similarity_figures(metric: str, expected: float) -> None:
    text, reference = "The capital is Paris", "Paris is the capital of France"
    assert similarity(metric, text, reference) == pytest.approx(expected, abs=1e-4)


def test_score_model_stand_in_maps_similarity_onto_the_range() -> None:
    exact = run_grader(score_model([0, 10]), ITEM, "Paris")
    assert exact["reward"] == 10.0
    wrong = run_grader(score_model([0, 10]), ITEM, "Tokyo")
    assert wrong["reward"] == 0.0
    close = run_grader(score_model(), ITEM, "Pariss")["reward"]
    assert 0.85 < close < 1.0
    assert run_grader(score_model(), ITEM, "Pariss")["reward"] == close  # deterministic


def test_score_model_reports_token_usage_under_its_model() -> None:
    result = run_grader(score_model(), ITEM, "Paris")
    usage = result["model_grader_token_usage_per_model"]["gpt-4o-mini-2024-07-18"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 10
    assert result["metadata"]["token_usage"] == usage["total_tokens"]
    assert result["metadata"]["sampled_model_name"] == "gpt-4o-mini-2024-07-18"


def test_label_model_stand_in_picks_a_passing_label_for_a_close_answer() -> None:
    assert run_grader(label_model(), ITEM, "Paris")["reward"] == 1.0
    assert run_grader(label_model(), ITEM, "Berlin")["reward"] == 0.0


def test_label_model_takes_a_label_the_answer_names() -> None:
    grader = {**label_model(), "input": [{"role": "user", "content": "{{sample.output_text}}"}]}
    assert run_grader(grader, {}, "Correct")["reward"] == 1.0
    assert run_grader(grader, {}, "incorrect")["reward"] == 0.0


def test_multi_combines_named_sub_graders_with_the_formula() -> None:
    grader = {
        "type": "multi",
        "name": "mixed",
        "graders": {"exact": string_check("eq"), "judge": score_model([0, 10])},
        "calculate_output": "0.5 * exact + 0.05 * judge",
    }
    result = run_grader(grader, ITEM, "Paris")
    assert result["reward"] == pytest.approx(1.0)
    assert result["sub_rewards"] == {"exact": 1.0, "judge": 10.0}
    assert result["metadata"]["type"] == "multi"
    assert "gpt-4o-mini-2024-07-18" in result["model_grader_token_usage_per_model"]
    assert run_grader(grader, ITEM, "Tokyo")["reward"] == 0.0


def test_multi_formula_errors_are_flagged() -> None:
    base = {"type": "multi", "name": "m", "graders": {"a": string_check("eq")}}
    divided = run_grader({**base, "calculate_output": "a / 0"}, ITEM, "Paris")
    assert divided["metadata"]["errors"]["other_error"] is True
    assert divided["reward"] == 0.0
    broken = run_grader({**base, "calculate_output": "a +"}, ITEM, "Paris")
    assert broken["metadata"]["errors"]["formula_parse_error"] is True
    unknown = run_grader({**base, "calculate_output": "a + b"}, ITEM, "Paris")
    assert unknown["metadata"]["errors"]["invalid_variable_error"] is True


def test_multi_passes_on_a_sub_graders_error_flags() -> None:
    grader = {
        "type": "multi",
        "name": "m",
        "graders": {"a": string_check("eq", "{{item.missing}}"), "b": string_check("eq")},
        "calculate_output": "a + b",
    }
    result = run_grader(grader, ITEM, "Paris")
    assert result["metadata"]["errors"]["invalid_variable_error"]
    assert result["reward"] == 0.0  # not b's 1.0: a failed sub-grader fails the whole
    assert result["sub_rewards"] == {"a": 0.0, "b": 1.0}


def test_python_grader_outcomes_map_to_the_service_flags() -> None:
    grader = {"type": "python", "name": "py", "source": "def grade(sample, item): ..."}
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def runner(outcome: PythonOutcome) -> Any:
        def run(source: str, sample: dict[str, Any], item: dict[str, Any]) -> PythonOutcome:
            calls.append((source, sample, item))
            return outcome

        return run

    ok = run_grader(grader, ITEM, "Paris", python_runner=runner(PythonOutcome(score=0.75)))
    assert ok["reward"] == 0.75
    assert calls[0][1]["output_text"] == "Paris"
    assert calls[0][2] == ITEM
    failed = run_grader(grader, ITEM, "x", python_runner=runner(PythonOutcome(error="KeyError")))
    errors = failed["metadata"]["errors"]
    assert errors["python_grader_runtime_error"] is True
    assert errors["python_grader_runtime_error_details"] == "KeyError"
    slow = run_grader(
        grader, ITEM, "x", python_runner=runner(PythonOutcome(error="t", server_error="timeout"))
    )
    assert slow["metadata"]["errors"]["python_grader_server_error_type"] == "timeout"


def test_run_grader_many_matches_run_grader_pair_by_pair() -> None:
    from ftctl.graders.engine import run_grader_many

    grader = {
        "type": "multi",
        "name": "m",
        "graders": {
            "exact": string_check("eq"),
            "code": {
                "type": "python",
                "name": "code",
                "source": "def grade(sample, item):\n"
                "    return 0.5 if sample['output_text'] == item['answer'] else 0.0\n",
            },
        },
        "calculate_output": "exact + code",
    }
    pairs: list[tuple[dict[str, Any] | None, str]] = [
        (ITEM, "Paris"),
        (ITEM, "Lyon"),
        ({"answer": "Lyon"}, "Lyon"),
    ]
    many = run_grader_many(grader, pairs)
    assert [r["reward"] for r in many] == [1.5, 0.0, 1.5]
    one_by_one = [run_grader(grader, item, sample)["reward"] for item, sample in pairs]
    assert [r["reward"] for r in many] == one_by_one
    assert many[0]["sub_rewards"] == {"exact": 1.0, "code": 0.5}


def test_the_model_stand_in_compares_text_not_media() -> None:
    grader = score_model()
    grader["input"][1]["content"].append({"type": "input_image", "image_url": "{{item.image}}"})
    item = {**ITEM, "image": "https://example.com/paris.png"}
    assert run_grader(grader, item, "Paris")["reward"] == 1.0
