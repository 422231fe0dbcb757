"""The checks the service makes of a grader before it runs one, with its kinds of error message.

Shapes follow OpenAI's OpenAPI description (GraderStringCheck, GraderTextSimilarity, GraderPython,
GraderScoreModel, GraderLabelModel, GraderMulti) and its graders guide; messages follow the
service's standard wording ("Missing required parameter: 'grader.reference'.", "Invalid type for
...", "Invalid value: ... Supported values are: ..."). Every error names the field as `param`,
in the request's dotted notation (`grader.graders.exact.operation`, `grader.input[0].role`).

A multi grader's `graders` is an object of named graders (the service's form; the names are the
variables of `calculate_output`); the single-grader form the OpenAPI text shows is also taken.
Multi graders do not nest, and `label_model` is taken only inside a multi grader (the request
schemas list it nowhere else).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from ftctl.graders.expression import ExpressionError
from ftctl.graders.expression import parse as parse_formula
from ftctl.graders.metrics import METRICS
from ftctl.graders.templates import TemplateError, multi_subgraders, string_references

TOP_LEVEL_TYPES = ("string_check", "text_similarity", "python", "score_model", "multi")
SUB_GRADER_TYPES = ("string_check", "text_similarity", "python", "score_model", "label_model")
OPERATIONS = ("eq", "ne", "like", "ilike")
ROLES = ("user", "assistant", "system", "developer")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
CONTENT_TYPES = ("input_text", "output_text", "input_image", "input_audio")
AUDIO_FORMATS = ("mp3", "wav")
IMAGE_DETAILS = ("auto", "low", "high")
MAX_PYTHON_SOURCE = 256 * 1024  # characters; a cap so validation stays cheap

_KEYS: dict[str, frozenset[str]] = {
    "string_check": frozenset({"type", "name", "input", "reference", "operation"}),
    "text_similarity": frozenset(
        {"type", "name", "input", "reference", "evaluation_metric", "pass_threshold"}
    ),
    "python": frozenset({"type", "name", "source", "image_tag"}),
    "score_model": frozenset(
        {"type", "name", "model", "input", "range", "sampling_params", "pass_threshold"}
    ),
    "label_model": frozenset({"type", "name", "model", "input", "labels", "passing_labels"}),
    "multi": frozenset({"type", "name", "graders", "calculate_output"}),
}
_SAMPLING_KEYS = frozenset(
    {"seed", "top_p", "temperature", "max_completions_tokens", "reasoning_effort"}
)


class GraderError(ValueError):
    """A grader the service refuses: HTTP 400 with this message, `param` and `code`."""

    def __init__(self, message: str, *, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def type_name(value: object) -> str:
    """The service's words for a JSON value's type ("a string", "an integer", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _quoted_list(values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def missing(param: str) -> GraderError:
    return GraderError(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def unknown_parameter(param: str) -> GraderError:
    return GraderError(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def invalid_type(param: str, expected: str, value: object) -> GraderError:
    return GraderError(
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_enum(param: str, value: object, allowed: Sequence[str]) -> GraderError:
    return GraderError(
        f"Invalid value: '{value}'. Supported values are: {_quoted_list(allowed)}.",
        param=param,
        code="invalid_value",
    )


def _object(value: object, param: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid_type(param, "an object", value)
    return value


def _string(
    grader: Mapping[str, Any], key: str, param: str, *, required: bool = True
) -> str | None:
    if key not in grader or grader[key] is None:
        if required:
            raise missing(f"{param}.{key}")
        return None
    value = grader[key]
    if not isinstance(value, str):
        raise invalid_type(f"{param}.{key}", "a string", value)
    return value


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _templates(text: str, param: str) -> None:
    try:
        string_references(text, field=param)
    except TemplateError as error:
        raise GraderError(f"Invalid template in '{param}': {error.message}", param=param) from None


def validate_grader(grader: object, *, param: str = "grader", nested: bool = False) -> None:
    """Raise GraderError for the first thing the service would refuse in `grader`."""
    body = _object(grader, param)
    kind = body.get("type")
    if kind is None:
        raise missing(f"{param}.type")
    allowed = SUB_GRADER_TYPES if nested else TOP_LEVEL_TYPES
    if kind not in allowed:
        raise invalid_enum(f"{param}.type", kind, allowed)
    for key in body:
        if key not in _KEYS[kind]:
            raise unknown_parameter(f"{param}.{key}")
    name = _string(body, "name", param)
    assert name is not None
    if not name.strip():
        raise GraderError(f"'{param}.name' must not be empty.", param=f"{param}.name")
    if kind == "string_check":
        _check_string_check(body, param)
    elif kind == "text_similarity":
        _check_text_similarity(body, param)
    elif kind == "python":
        _check_python(body, param)
    elif kind == "score_model":
        _check_score_model(body, param)
    elif kind == "label_model":
        _check_label_model(body, param)
    else:
        _check_multi(body, param)


def _check_input_reference(body: Mapping[str, Any], param: str) -> None:
    for key in ("input", "reference"):
        text = _string(body, key, param)
        assert text is not None
        _templates(text, f"{param}.{key}")


def _check_string_check(body: Mapping[str, Any], param: str) -> None:
    _check_input_reference(body, param)
    operation = _string(body, "operation", param)
    if operation not in OPERATIONS:
        raise invalid_enum(f"{param}.operation", operation, OPERATIONS)


def _check_pass_threshold(body: Mapping[str, Any], param: str) -> None:
    if body.get("pass_threshold") is not None and not _number(body["pass_threshold"]):
        raise invalid_type(f"{param}.pass_threshold", "a number", body["pass_threshold"])


def _check_text_similarity(body: Mapping[str, Any], param: str) -> None:
    _check_input_reference(body, param)
    metric = _string(body, "evaluation_metric", param)
    if metric not in METRICS:
        raise invalid_enum(f"{param}.evaluation_metric", metric, METRICS)
    _check_pass_threshold(body, param)


def python_syntax_error(source: str) -> str | None:
    """None when `source` parses and defines `grade`; else what is wrong, with the line."""
    if len(source) > MAX_PYTHON_SOURCE:
        return f"the source is longer than {MAX_PYTHON_SOURCE} characters"
    try:
        tree = ast.parse(source, filename="grader.py")
    except SyntaxError as error:
        return f"line {error.lineno}: {error.msg}"
    except (RecursionError, MemoryError, ValueError):
        return "the source is nested too deeply to compile"
    if not any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "grade"
        for node in tree.body
    ):
        return "the source must define a function grade(sample, item)"
    return None


def _check_python(body: Mapping[str, Any], param: str) -> None:
    source = _string(body, "source", param)
    assert source is not None
    _string(body, "image_tag", param, required=False)
    problem = python_syntax_error(source)
    if problem is not None:
        raise GraderError(
            f"Invalid Python grader source in '{param}.source': {problem}.",
            param=f"{param}.source",
        )


def _array(body: Mapping[str, Any], key: str, param: str) -> list[Any]:
    """The required, non-empty array `body[key]`, or the service's error for it."""
    where = f"{param}.{key}"
    if body.get(key) is None:
        raise missing(where)
    values = body[key]
    if not isinstance(values, list):
        raise invalid_type(where, "an array", values)
    if not values:
        raise GraderError(
            f"Invalid '{where}': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param=where,
            code="empty_array",
        )
    return values


def _check_model_input(body: Mapping[str, Any], param: str) -> None:
    _string(body, "model", param)
    where = f"{param}.input"
    messages = _array(body, "input", param)
    for number, message in enumerate(messages):
        at = f"{where}[{number}]"
        item = _object(message, at)
        for key in item:
            if key not in ("role", "content", "type"):
                raise unknown_parameter(f"{at}.{key}")
        role = _string(item, "role", at)
        if role not in ROLES:
            raise invalid_enum(f"{at}.role", role, ROLES)
        if item.get("type") is not None and item["type"] != "message":
            raise invalid_enum(f"{at}.type", item["type"], ("message",))
        if item.get("content") is None:
            raise missing(f"{at}.content")
        _check_content(item["content"], f"{at}.content")


def _check_content(content: object, param: str) -> None:
    if isinstance(content, str):
        _templates(content, param)
        return
    if isinstance(content, list):
        for number, part in enumerate(content):
            if isinstance(part, list):
                raise invalid_type(f"{param}[{number}]", "a string or an object", part)
            _check_content(part, f"{param}[{number}]")
        return
    part = _object(content, param)
    kind = part.get("type")
    if kind is None:
        raise missing(f"{param}.type")
    if kind not in CONTENT_TYPES:
        raise invalid_enum(f"{param}.type", kind, CONTENT_TYPES)
    if kind in ("input_text", "output_text"):
        text = _string(part, "text", param)
        assert text is not None
        _templates(text, f"{param}.text")
    elif kind == "input_image":
        url = _string(part, "image_url", param)
        assert url is not None
        _templates(url, f"{param}.image_url")
        detail = part.get("detail")
        if detail is not None and detail not in IMAGE_DETAILS:
            raise invalid_enum(f"{param}.detail", detail, IMAGE_DETAILS)
    else:
        audio = part.get("input_audio")
        if audio is None:
            raise missing(f"{param}.input_audio")
        audio = _object(audio, f"{param}.input_audio")
        data = _string(audio, "data", f"{param}.input_audio")
        assert data is not None
        _templates(data, f"{param}.input_audio.data")
        audio_format = _string(audio, "format", f"{param}.input_audio")
        if audio_format not in AUDIO_FORMATS:
            raise invalid_enum(f"{param}.input_audio.format", audio_format, AUDIO_FORMATS)


def score_range(body: Mapping[str, Any]) -> tuple[float, float]:
    """A score_model grader's `range` (default [0, 1]); call after validation."""
    value = body.get("range")
    if value is None:
        return (0.0, 1.0)
    return (float(value[0]), float(value[1]))


def _check_score_model(body: Mapping[str, Any], param: str) -> None:
    _check_model_input(body, param)
    value = body.get("range")
    if value is not None:
        where = f"{param}.range"
        if not isinstance(value, list):
            raise invalid_type(where, "an array", value)
        if len(value) != 2 or not all(_number(v) for v in value):
            raise GraderError(
                f"Invalid '{where}': expected an array of two numbers [min, max].", param=where
            )
        if value[0] >= value[1]:
            raise GraderError(
                f"Invalid '{where}': the minimum ({value[0]}) must be below the maximum "
                f"({value[1]}).",
                param=where,
            )
    _check_pass_threshold(body, param)
    params = body.get("sampling_params")
    if params is None:
        return
    where = f"{param}.sampling_params"
    params = _object(params, where)
    for key, setting in params.items():
        at = f"{where}.{key}"
        if key not in _SAMPLING_KEYS:
            raise unknown_parameter(at)
        if setting is None:
            continue
        if key in ("seed", "max_completions_tokens"):
            if not isinstance(setting, int) or isinstance(setting, bool):
                raise invalid_type(at, "an integer", setting)
            if key == "max_completions_tokens" and setting < 1:
                raise GraderError(
                    f"Invalid '{at}': integer below minimum value. Expected a value >= 1, "
                    f"but got {setting} instead.",
                    param=at,
                    code="integer_below_min_value",
                )
        elif key == "reasoning_effort":
            if setting not in REASONING_EFFORTS:
                raise invalid_enum(at, setting, REASONING_EFFORTS)
        elif not _number(setting):
            raise invalid_type(at, "a number", setting)


def _string_list(body: Mapping[str, Any], key: str, param: str) -> list[str]:
    where = f"{param}.{key}"
    values = _array(body, key, param)
    for number, value in enumerate(values):
        if not isinstance(value, str):
            raise invalid_type(f"{where}[{number}]", "a string", value)
    return list(values)


def _check_label_model(body: Mapping[str, Any], param: str) -> None:
    _check_model_input(body, param)
    labels = _string_list(body, "labels", param)
    passing = _string_list(body, "passing_labels", param)
    for number, label in enumerate(passing):
        if label not in labels:
            where = f"{param}.passing_labels[{number}]"
            raise GraderError(
                f"Invalid '{where}': '{label}' is not one of the labels "
                f"({_quoted_list(labels)}); passing_labels must be a subset of labels.",
                param=where,
            )


def _check_multi(body: Mapping[str, Any], param: str) -> None:
    where = f"{param}.graders"
    if body.get("graders") is None:
        raise missing(where)
    graders = _object(body["graders"], where)
    if not graders:
        raise GraderError(f"Invalid '{where}': expected at least one grader.", param=where)
    single = isinstance(graders.get("type"), str)
    named = multi_subgraders(body)
    if single:
        validate_grader(graders, param=where, nested=True)
    else:
        for key, value in graders.items():
            if not isinstance(value, Mapping):
                raise invalid_type(f"{where}.{key}", "an object", value)
        for name, sub in named:
            if not name.isidentifier():
                raise GraderError(
                    f"Invalid '{where}': the grader name '{name}' must be a variable name "
                    "(letters, digits, underscore) so calculate_output can use it.",
                    param=f"{where}.{name}",
                )
            validate_grader(sub, param=f"{where}.{name}", nested=True)
    formula_text = _string(body, "calculate_output", param)
    assert formula_text is not None
    at = f"{param}.calculate_output"
    try:
        formula = parse_formula(formula_text)
    except ExpressionError as error:
        raise GraderError(
            f"Invalid '{at}': cannot parse the formula: {error.message}.", param=at
        ) from None
    known = {name for name, _ in named}
    unknown = sorted(formula.names - known)
    if unknown:
        raise GraderError(
            f"Invalid '{at}': {_quoted_list(unknown)} is not the name of a grader in "
            f"'{where}' (names: {_quoted_list(sorted(known))}).",
            param=at,
        )
