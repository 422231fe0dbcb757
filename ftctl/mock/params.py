"""Reading request parameters: types, ranges and shapes, each failure a 400 naming `param`.

These check what a request says, not what the service holds; rules that need state (does the file
exist, may this model be tuned, how many jobs are active) live in the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ftctl.hyperparameters import METHOD_HYPERPARAMETERS, RANGES, REASONING_EFFORTS
from ftctl.mock import errors

JOB_KEYS = frozenset(
    {
        "model",
        "training_file",
        "validation_file",
        "suffix",
        "seed",
        "hyperparameters",
        "method",
        "metadata",
        "integrations",
    }
)
METHODS = ("supervised", "dpo", "reinforcement")


def string(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise errors.missing(name)
        return None
    if not isinstance(value, str):
        raise errors.invalid_type(name, "a string", value)
    return value


def required_string(body: dict[str, Any], name: str) -> str:
    value = string(body, name, required=True)
    assert value is not None
    return value


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def integer(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.invalid_type(name, "an integer", value)
    return errors.check_int_range(name, value, low, high)


def hyperparameters(raw: object, where: str, method: str) -> dict[str, Any]:
    """The hyperparameters a request gives for `method`, checked against the API's ranges
    (ftctl.hyperparameters); raise APIError naming the first bad one (`where` is its path, e.g.
    method.dpo.hyperparameters)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise errors.invalid_type(where, "an object", raw)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{where}.{key}"
        if key not in METHOD_HYPERPARAMETERS[method]:
            raise errors.unknown_parameter(name)
        if key == "reasoning_effort":
            if value not in REASONING_EFFORTS:
                raise errors.reasoning_effort_value(name, value)
            out[key] = value
            continue
        if value == "auto":
            out[key] = "auto"
            continue
        allowed = RANGES[key]
        if allowed.integer:
            if not isinstance(value, int) or isinstance(value, bool):
                raise errors.invalid_type(name, "an integer or 'auto'", value)
            high = 2**31 if allowed.high is None else int(allowed.high)
            out[key] = errors.check_int_range(name, value, int(allowed.low), high)
            continue
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise errors.invalid_type(name, "a number or 'auto'", value)
        if not allowed.admits(value):
            raise errors.hyperparameter_range(name, allowed.low, allowed.high, value)
        out[key] = value
    return out


def requested_hyperparameters(method: str, given: dict[str, Any]) -> dict[str, Any]:
    """What the job object shows before its files are validated: "auto" where not given."""
    out = {key: given.get(key, "auto") for key in METHOD_HYPERPARAMETERS[method]}
    if method == "reinforcement":
        out["reasoning_effort"] = given.get("reasoning_effort", "default")
    return out


def metadata(raw: object, param: str = "metadata") -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise errors.invalid_type(param, "an object", raw)
    if len(raw) > 16:
        raise errors.too_many_properties(param, 16, len(raw))
    for key, value in raw.items():
        if len(key) > 64:
            raise errors.key_too_long(param, key, 64)
        if not isinstance(value, str):
            raise errors.invalid_type(f"{param}.{key}", "a string", value)
        if len(value) > 512:
            raise errors.string_too_long(f"{param}.{key}", 512, len(value))
    return dict(raw)


def stop(raw: object) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        if len(raw) > 4:
            raise errors.array_too_long("stop", 4, len(raw))
        return [str(s) for s in raw]
    raise errors.invalid_type("stop", "a string or an array of strings", raw)


def integrations(raw: object) -> list[dict[str, Any]]:
    items = raw or []
    if not isinstance(items, list) or len(items) > 5:
        raise errors.invalid_type("integrations", "an array of at most 5 integrations", items)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "wandb":
            raise errors.only_wandb(i)
        wandb = item.get("wandb")
        if not isinstance(wandb, dict) or not isinstance(wandb.get("project"), str):
            raise errors.missing(f"integrations[{i}].wandb.project")
    return items


@dataclass(frozen=True)
class JobRequest:
    """A job POST's parameters, checked for shape; the store checks them against its state."""

    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int | None
    method_type: str
    requested: dict[str, Any]  # hyperparameters as asked for, "auto" where not given
    metadata: dict[str, str] | None
    integrations: list[dict[str, Any]]
    grader: dict[str, Any] | None = None  # reinforcement
    response_format: dict[str, Any] | None = None  # reinforcement


def job_request(body: dict[str, Any]) -> JobRequest:
    for key in body:
        if key not in JOB_KEYS:
            raise errors.unrecognized_argument(key)
    model = required_string(body, "model")
    training_file = required_string(body, "training_file")
    validation_file = string(body, "validation_file")
    suffix = body.get("suffix")
    if suffix is not None:
        if not isinstance(suffix, str):
            raise errors.invalid_type("suffix", "a string", suffix)
        if not 1 <= len(suffix) <= 64:
            raise errors.string_length("suffix", 1, 64, len(suffix))
    seed = body.get("seed")
    if seed is not None:
        seed = integer("seed", seed, 0, 2_147_483_647)
    method_type, requested, grader, response_format = method(body)
    return JobRequest(
        model=model,
        training_file=training_file,
        validation_file=validation_file,
        suffix=suffix,
        seed=seed,
        method_type=method_type,
        requested=requested,
        metadata=metadata(body.get("metadata")),
        integrations=integrations(body.get("integrations")),
        grader=grader,
        response_format=response_format,
    )


def method(
    body: dict[str, Any],
) -> tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """(method type, hyperparameters with "auto" for those not given, grader, response_format),
    from either spelling; the last two only for reinforcement."""
    legacy = hyperparameters(body.get("hyperparameters"), "hyperparameters", "supervised")
    raw = body.get("method")
    if raw is None:
        return "supervised", requested_hyperparameters("supervised", legacy), None, None
    if not isinstance(raw, dict):
        raise errors.invalid_type("method", "an object", raw)
    kind = raw.get("type")
    if kind is None:
        raise errors.missing("method.type")
    if kind not in METHODS:
        raise errors.invalid_method_type(kind)
    section = raw.get(kind) or {}
    if not isinstance(section, dict):
        raise errors.invalid_type(f"method.{kind}", "an object", section)
    given = hyperparameters(section.get("hyperparameters"), f"method.{kind}.hyperparameters", kind)
    if legacy and given and legacy != {k: v for k, v in given.items() if k != "beta"}:
        raise errors.hyperparameters_twice()
    grader = response_format = None
    if kind == "reinforcement":
        grader, response_format = _reinforcement(section)
    return kind, requested_hyperparameters(kind, {**legacy, **given}), grader, response_format


def _reinforcement(section: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A reinforcement method's grader (checked as the service checks it) and response_format."""
    from ftctl.graders.validation import GraderError, validate_grader

    grader = section.get("grader")
    if grader is None:
        raise errors.missing("method.reinforcement.grader")
    try:
        validate_grader(grader, param="method.reinforcement.grader")
    except GraderError as error:
        raise errors.APIError(400, error.message, param=error.param, code=error.code) from None
    response_format = section.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        raise errors.invalid_type(
            "method.reinforcement.response_format", "an object", response_format
        )
    return dict(grader), response_format
