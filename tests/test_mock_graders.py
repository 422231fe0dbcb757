"""The mock's graders endpoints, driven by the official SDK through ftctl's service layer.

Every response is checked against the OpenAPI description (tests/support/openapi_check.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from ftctl.service.graders import GradersService, error_flags
from tests.support import openapi_check
from tests.support.mock_server import running_mock

EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_mock() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=base_url, api_key="sk-test", http_client=httpx.Client(), max_retries=0
    ) as sdk:
        yield sdk


@pytest.fixture
def service(client: openai.OpenAI) -> GradersService:
    return GradersService(client)


def post(base_url: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(
        f"{base_url}/fine_tuning/alpha/graders/{path}",
        json=body,
        headers={"Authorization": "Bearer sk-test"},
    )


def test_validate_echoes_a_good_grader(service: GradersService) -> None:
    body = service.validate(EXACT)
    assert body == {"grader": EXACT}
    openapi_check.validate_response("validateGrader", 200, body)


def test_run_gives_one_for_a_match_and_zero_for_a_wrong_sample(service: GradersService) -> None:
    right = service.run(EXACT, model_sample="Paris", item={"answer": "Paris"})
    wrong = service.run(EXACT, model_sample="Lyon", item={"answer": "Paris"})
    assert (right["reward"], wrong["reward"]) == (1.0, 0.0)
    for body in (right, wrong):
        openapi_check.validate_response("runGrader", 200, body)
        assert error_flags(body) == []


def test_run_a_multi_grader_with_every_type(service: GradersService) -> None:
    grader = {
        "type": "multi",
        "name": "everything",
        "graders": {
            "exact": EXACT,
            "close": {
                **{k: v for k, v in EXACT.items() if k != "operation"},
                "type": "text_similarity",
                "evaluation_metric": "bleu",
            },
            "judge": {
                "type": "score_model",
                "name": "judge",
                "model": "gpt-4o-mini",
                "input": [{"role": "user", "content": "{{item.answer}} vs {{sample.output_text}}"}],
                "range": [0, 4],
            },
            "verdict": {
                "type": "label_model",
                "name": "verdict",
                "model": "gpt-4o-mini",
                "input": [{"role": "user", "content": "{{item.answer}} vs {{sample.output_text}}"}],
                "labels": ["same", "different"],
                "passing_labels": ["same"],
            },
            "code": {
                "type": "python",
                "name": "code",
                "source": "def grade(sample, item):\n"
                "    return float(sample['output_text'].lower() == item['answer'].lower())\n",
            },
        },
        "calculate_output": "(exact + close + judge / 4 + verdict + code) / 5",
    }
    openapi_check.validate_request("runGrader", {"grader": grader, "model_sample": "Paris"})
    body = service.run(grader, model_sample="Paris", item={"answer": "Paris"})
    openapi_check.validate_response("runGrader", 200, body)
    assert body["reward"] == 1.0
    assert body["sub_rewards"] == {
        "exact": 1.0,
        "close": 1.0,
        "judge": 4.0,
        "verdict": 1.0,
        "code": 1.0,
    }
    assert set(body["model_grader_token_usage_per_model"]) == {"gpt-4o-mini"}


def test_a_broken_grader_is_refused_with_a_400_naming_the_param(service: GradersService) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        service.validate({**EXACT, "operation": "equals"})
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "grader.operation"
    assert error["code"] == "invalid_value"
    assert error["message"].startswith("Invalid value: 'equals'. Supported values are: 'eq'")
    openapi_check.validate_response("validateGrader", 400, caught.value.response.json())


@pytest.mark.parametrize(
    ("path", "body", "param", "code"),
    [
        ("validate", {}, "grader", "missing_required_parameter"),
        ("run", {"grader": EXACT}, "model_sample", "missing_required_parameter"),
        ("run", {"grader": EXACT, "model_sample": 3}, "model_sample", "invalid_type"),
        ("run", {"grader": EXACT, "model_sample": "x", "item": [1]}, "item", "invalid_type"),
        ("run", {"grader": "eq", "model_sample": "x"}, "grader", "invalid_type"),
    ],
)
def test_request_errors(base_url: str, path: str, body: Any, param: str, code: str) -> None:
    response = post(base_url, path, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)
    openapi_check.validate_schema("ErrorResponse", response.json())


def test_a_missing_item_field_is_reported_in_the_result(service: GradersService) -> None:
    body = service.run(EXACT, model_sample="Paris", item={"label": "Paris"})
    assert body["reward"] == 0.0
    assert error_flags(body) == ["invalid_variable_error"]


def test_a_hostile_python_grader_leaves_the_server_serving(service: GradersService) -> None:
    hostile = {
        "type": "python",
        "name": "hostile",
        "source": "import os, signal\n"
        "def grade(sample, item):\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    blob = bytearray(4 * 1024 ** 3)\n"
        "    while True:\n"
        "        pass\n",
    }
    from ftctl.graders.sandbox import isolated

    if not isolated():
        pytest.skip("without namespaces the parent's pid is visible to the grader")
    body = service.run(hostile, model_sample="x")
    assert body["reward"] == 0.0
    assert error_flags(body)  # the grader failed, the server did not
    assert service.run(EXACT, model_sample="Paris", item={"answer": "Paris"})["reward"] == 1.0


def test_a_python_grader_that_loops_is_stopped(
    service: GradersService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftctl.mock.routes import graders

    monkeypatch.setattr(graders, "PYTHON_TIMEOUT", 1.0)
    looping = {
        "type": "python",
        "name": "loop",
        "source": "def grade(sample, item):\n    while True:\n        pass\n",
    }
    body = service.run(looping, model_sample="x")
    assert body["metadata"]["errors"]["python_grader_server_error_type"] == "timeout"
    openapi_check.validate_response("runGrader", 200, body)
