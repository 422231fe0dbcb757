"""The one hyperparameter table (ftctl.hyperparameters) is the OpenAPI description's, and the two
sides that check it, `ftctl create` and the mock, refuse and accept the same values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ftctl.hyperparameters import METHOD_HYPERPARAMETERS, RANGES, REASONING_EFFORTS, Range
from tests.support.openapi_check import SPEC_PATH

SCHEMAS = {
    "supervised": "FineTuneSupervisedHyperparameters",
    "dpo": "FineTuneDPOHyperparameters",
    "reinforcement": "FineTuneReinforcementHyperparameters",
}


def _schemas() -> dict[str, Any]:
    return dict(json.loads(SPEC_PATH.read_text(encoding="utf-8"))["components"]["schemas"])


def _numeric(prop: dict[str, Any]) -> dict[str, Any]:
    (number,) = [choice for choice in prop["oneOf"] if choice.get("type") != "string"]
    return dict(number)


@pytest.mark.parametrize("method", list(SCHEMAS))
def test_each_method_takes_what_the_description_lists(method: str) -> None:
    properties = _schemas()[SCHEMAS[method]]["properties"]
    assert sorted(METHOD_HYPERPARAMETERS[method]) == sorted(properties)


def test_the_ranges_and_efforts_are_the_descriptions() -> None:
    schemas = _schemas()
    for method, schema in SCHEMAS.items():
        for name, prop in schemas[schema]["properties"].items():
            if name == "reasoning_effort":
                assert tuple(prop["enum"]) == REASONING_EFFORTS
                continue
            number = _numeric(prop)
            exclusive = "exclusiveMinimum" in number
            expected = Range(
                number["exclusiveMinimum"] if exclusive else number["minimum"],
                number.get("maximum"),
                low_exclusive=exclusive,
                integer=number["type"] == "integer",
            )
            assert RANGES[name] == expected, (method, name)


CASES = [
    ("n_epochs", 0),
    ("n_epochs", 1),
    ("n_epochs", 50),
    ("n_epochs", 51),
    ("batch_size", 256),
    ("batch_size", 257),
    ("learning_rate_multiplier", 0),
    ("learning_rate_multiplier", 0.01),
    ("beta", 2),
    ("beta", 2.5),
    ("beta", 0),
    ("compute_multiplier", 0.00001),
    ("compute_multiplier", 10),
    ("eval_interval", 0),
    ("eval_samples", 1),
    ("reasoning_effort", "high"),
    ("reasoning_effort", "extreme"),
]


@pytest.mark.parametrize(("name", "value"), CASES)
def test_create_and_the_mock_agree_on_each_value(name: str, value: object) -> None:
    from ftctl.errors import FtctlError
    from ftctl.mock import params
    from ftctl.mock.errors import APIError
    from ftctl.service.jobs import Hyperparameters

    method = next(m for m, names in METHOD_HYPERPARAMETERS.items() if name in names)
    try:
        Hyperparameters(**{name: value}).check_ranges()  # type: ignore[arg-type]
        create_accepts = True
    except FtctlError:
        create_accepts = False
    try:
        params.hyperparameters({name: value}, f"method.{method}.hyperparameters", method)
        mock_accepts = True
    except APIError:
        mock_accepts = False
    assert create_accepts == mock_accepts
