"""Running a grader on one (item, sample) pair; the result is shaped like RunGraderResponse.

- string_check: `eq`/`ne` compare the rendered input and reference exactly; `like` is 1 when the
  input contains the reference, `ilike` the same ignoring case (the graders guide's definitions).
- text_similarity: the metric's score in [0, 1] (see ftctl.graders.metrics for the libraries).
- score_model / label_model: there is no judge model here, so a deterministic stand-in decides.
  It renders the grader's messages, takes the values their text reads from the item as the
  reference and the values it reads from the sample (else the sample's text) as the answer, and
  measures their similarity s in [0, 1] (rapidfuzz's ratio on case-folded, space-normalised text;
  0.5 when the messages read nothing from the item). score_model returns `min + s * (max - min)`
  over its `range`. label_model picks the label the answer names, if it is exactly one of the
  labels, else the first passing label when s >= 0.5 and the first failing label otherwise; the
  reward is 1 for a passing label, 0 for any other. Token usage is the rendered prompt's chat
  token count and the tokens of the stand-in's answer, under the grader's model.
- python: `grade(sample, item)` in a separate, limited process (ftctl.graders.sandbox).
- multi: every named sub-grader, then `calculate_output` over their rewards (ftctl.graders
  .expression); `sub_rewards` holds each sub-grader's reward. When a sub-grader fails, the
  formula is not applied: the reward is 0 and that sub-grader's error flags are the multi's.

A failure inside a run is not an HTTP error: the reward is 0 and the matching flag in
`metadata.errors` is set, as the service reports it: `invalid_variable_error` for a template
variable the item or sample lacks, `sample_parse_error` for `{{sample.output_json...}}` when the
sample is not JSON, `python_grader_runtime_error` / `python_grader_server_error` for a python
grader's exception / timeout, `formula_parse_error`, or `other_error` for a formula's math error.
Call `validate_grader` first.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftctl.graders.expression import ExpressionError
from ftctl.graders.expression import parse as parse_formula
from ftctl.graders.metrics import similarity
from ftctl.graders.sandbox import PythonOutcome, run_python_grader, run_python_graders
from ftctl.graders.templates import (
    TemplateError,
    content_strings,
    lookup,
    multi_subgraders,
    render,
    render_value,
    sample_namespace,
    string_references,
)
from ftctl.graders.validation import score_range

PythonRunner = Callable[[str, dict[str, Any], dict[str, Any]], PythonOutcome]

ERROR_FLAGS = (
    "formula_parse_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
    "invalid_variable_error",
    "other_error",
    "python_grader_server_error",
    "python_grader_runtime_error",
    "model_grader_server_error",
    "model_grader_refusal_error",
    "model_grader_parse_error",
)
ERROR_DETAILS = (
    "python_grader_server_error_type",
    "python_grader_runtime_error_details",
    "model_grader_server_error_details",
)


def no_errors() -> dict[str, Any]:
    """metadata.errors with every flag false and every detail null."""
    errors: dict[str, Any] = dict.fromkeys(ERROR_FLAGS, False)
    errors.update(dict.fromkeys(ERROR_DETAILS))
    return errors


@dataclass
class _Run:
    """What one grader's run produced, before it is shaped as a response."""

    reward: float = 0.0
    errors: dict[str, Any] = field(default_factory=no_errors)
    sub_rewards: dict[str, float] = field(default_factory=dict)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> token counts
    sampled_model: str | None = None

    def fail(self, flag: str, detail_key: str | None = None, detail: str | None = None) -> _Run:
        self.reward = 0.0
        self.errors[flag] = True
        if detail_key is not None:
            self.errors[detail_key] = detail
        return self

    def absorb(self, other: _Run) -> None:
        """Take a sub-grader's error flags and token usage into this (multi) run."""
        for key in ERROR_FLAGS:
            self.errors[key] = self.errors[key] or other.errors[key]
        for key in ERROR_DETAILS:
            self.errors[key] = self.errors[key] or other.errors[key]
        for model, counts in other.usage.items():
            mine = self.usage.setdefault(model, dict.fromkeys(counts, 0))
            for key, value in counts.items():
                mine[key] = mine.get(key, 0) + value


def run_grader(
    grader: Mapping[str, Any],
    item: Mapping[str, Any] | None,
    sample: str | Mapping[str, Any],
    *,
    python_runner: PythonRunner | None = None,
) -> dict[str, Any]:
    """Grade `sample` (the model's text, or a ready `sample` namespace) against `item`.

    Returns a RunGraderResponse-shaped dict. Cheap for every type but python, which starts a
    process per call (`python_runner` replaces that, for callers with their own sandbox).
    """
    started = time.perf_counter()
    namespace = sample_namespace(sample) if isinstance(sample, str) else dict(sample)
    run = _run(grader, _Inputs(dict(item or {}), namespace, python_runner or run_python_grader))
    total = sum(counts["total_tokens"] for counts in run.usage.values())
    return {
        "reward": run.reward,
        "metadata": {
            "name": grader.get("name", ""),
            "type": grader.get("type", ""),
            "errors": run.errors,
            "execution_time": time.perf_counter() - started,
            "scores": dict(run.sub_rewards),
            "token_usage": total if run.usage else None,
            "sampled_model_name": run.sampled_model,
        },
        "sub_rewards": dict(run.sub_rewards),
        "model_grader_token_usage_per_model": run.usage,
    }


def run_grader_many(
    grader: Mapping[str, Any],
    pairs: Sequence[tuple[Mapping[str, Any] | None, str | Mapping[str, Any]]],
) -> list[dict[str, Any]]:
    """`run_grader` for each (item, sample), with every python grader's calls made in one
    process per grader source instead of one process per call."""
    inputs = [
        (dict(item or {}), sample_namespace(s) if isinstance(s, str) else dict(s))
        for item, s in pairs
    ]
    outcomes: dict[str, list[PythonOutcome]] = {}
    for source in sorted(_python_sources(grader)):
        calls = [(sample, item) for item, sample in inputs]
        outcomes[source] = run_python_graders(source, calls)
    results: list[dict[str, Any]] = []
    for number, (item, sample) in enumerate(inputs):

        def ready(
            source: str, _sample: dict[str, Any], _item: dict[str, Any], number: int = number
        ) -> PythonOutcome:
            return outcomes[source][number]

        results.append(run_grader(grader, item, sample, python_runner=ready))
    return results


def _python_sources(grader: Mapping[str, Any]) -> set[str]:
    if grader.get("type") == "python":
        return {str(grader.get("source", ""))}
    if grader.get("type") == "multi":
        return {source for _, sub in multi_subgraders(grader) for source in _python_sources(sub)}
    return set()


@dataclass(frozen=True)
class _Inputs:
    """What every grader of one run reads: the item, the sample namespace, the python runner."""

    item: dict[str, Any]
    sample: dict[str, Any]
    python_runner: PythonRunner


def _run(grader: Mapping[str, Any], inputs: _Inputs) -> _Run:
    kind = grader.get("type")
    if kind == "string_check":
        return _string_check(grader, inputs)
    if kind == "text_similarity":
        return _text_similarity(grader, inputs)
    if kind in {"score_model", "label_model"}:
        return _model_stand_in(grader, inputs)
    if kind == "python":
        return _python(grader, inputs)
    if kind == "multi":
        return _multi(grader, inputs)
    return _Run().fail("other_error")


def _render_pair(grader: Mapping[str, Any], inputs: _Inputs) -> tuple[str, str]:
    item, sample = inputs.item, inputs.sample
    text = render(str(grader["input"]), item=item, sample=sample, field="input")
    reference = render(str(grader["reference"]), item=item, sample=sample, field="reference")
    return text, reference


def _template_flag(error: TemplateError, inputs: _Inputs) -> str:
    """`sample_parse_error` when the grader reads output_json of a sample that is not JSON,
    else `invalid_variable_error`."""
    ref = error.reference
    if (
        ref is not None
        and ref.namespace == "sample"
        and ref.path[:1] == ("output_json",)
        and inputs.sample.get("output_json") is None
    ):
        return "sample_parse_error"
    return "invalid_variable_error"


def check_strings(operation: str, text: str, reference: str) -> bool:
    """The string_check operations on already rendered strings."""
    if operation == "eq":
        return text == reference
    if operation == "ne":
        return text != reference
    if operation == "like":
        return reference in text
    if operation == "ilike":
        return reference.casefold() in text.casefold()
    raise ValueError(f"unknown operation {operation!r}")


def _string_check(grader: Mapping[str, Any], inputs: _Inputs) -> _Run:
    try:
        text, reference = _render_pair(grader, inputs)
    except TemplateError as error:
        return _Run().fail(_template_flag(error, inputs))
    passed = check_strings(str(grader["operation"]), text, reference)
    return _Run(reward=1.0 if passed else 0.0)


def _text_similarity(grader: Mapping[str, Any], inputs: _Inputs) -> _Run:
    try:
        text, reference = _render_pair(grader, inputs)
    except TemplateError as error:
        return _Run().fail(_template_flag(error, inputs))
    return _Run(reward=similarity(str(grader["evaluation_metric"]), text, reference))


_SPACE_RE = re.compile(r"\s+")


def _normalise(text: str) -> str:
    return _SPACE_RE.sub(" ", text.casefold()).strip()


def stand_in_similarity(answer: str, reference: str | None) -> float:
    """The model stand-in's judgement s in [0, 1]; 0.5 when there is no reference to judge by."""
    if reference is None:
        return 0.5
    from rapidfuzz import fuzz

    return float(fuzz.ratio(_normalise(answer), _normalise(reference))) / 100.0


def _model_stand_in(grader: Mapping[str, Any], inputs: _Inputs) -> _Run:
    item, sample = inputs.item, inputs.sample
    namespaces = {"item": item, "sample": sample}
    messages: list[dict[str, str]] = []
    item_values: list[str] = []
    sample_values: list[str] = []
    try:
        for number, message in enumerate(grader.get("input") or []):
            rendered: list[str] = []
            for where, text in content_strings(message.get("content"), f"input[{number}]"):
                rendered.append(render(text, item=item, sample=sample, field=where))
                if where.endswith((".image_url", ".input_audio.data")):
                    continue  # media, not text the stand-in can compare
                for ref in string_references(text, field=where):
                    value = render_value(lookup(namespaces[ref.namespace], ref.path))
                    (item_values if ref.namespace == "item" else sample_values).append(value)
            role = str(message.get("role", "user"))
            messages.append({"role": role, "content": "\n".join(rendered)})
    except TemplateError as error:
        return _Run().fail(_template_flag(error, inputs))
    answer = "\n".join(sample_values) if sample_values else str(sample.get("output_text", ""))
    reference = "\n".join(item_values) if item_values else None
    s = stand_in_similarity(answer, reference)
    if grader.get("type") == "label_model":
        labels = [str(label) for label in grader.get("labels", [])]
        passing = {str(label) for label in grader.get("passing_labels", [])}
        named = [label for label in labels if _normalise(label) == _normalise(answer)]
        if named:
            chosen = named[0]
        else:
            failing = [label for label in labels if label not in passing]
            wanted = [label for label in labels if label in passing] if s >= 0.5 else failing
            chosen = (wanted or labels)[0]
        run = _Run(reward=1.0 if chosen in passing else 0.0)
        reply = json.dumps({"result": chosen})
    else:
        low, high = score_range(grader)
        run = _Run(reward=low + s * (high - low))
        reply = json.dumps({"result": run.reward})
    model = str(grader.get("model", ""))
    run.sampled_model = model
    run.usage[model] = _token_usage(model, messages, reply)
    return run


def _token_usage(model: str, messages: list[dict[str, str]], reply: str) -> dict[str, int]:
    from ftctl.tokens import chat_tokens, encoding_for_model

    encoding = encoding_for_model(model)
    prompt = chat_tokens(messages, encoding)
    completion = len(encoding.encode_ordinary(reply))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cached_tokens": 0,
    }


def _python(grader: Mapping[str, Any], inputs: _Inputs) -> _Run:
    outcome = inputs.python_runner(str(grader["source"]), inputs.sample, inputs.item)
    if outcome.server_error is not None:
        return _Run().fail(
            "python_grader_server_error", "python_grader_server_error_type", outcome.server_error
        )
    if outcome.score is None:
        return _Run().fail(
            "python_grader_runtime_error", "python_grader_runtime_error_details", outcome.error
        )
    return _Run(reward=outcome.score)


def _multi(grader: Mapping[str, Any], inputs: _Inputs) -> _Run:
    run = _Run()
    for name, sub in multi_subgraders(grader):
        result = _run(sub, inputs)
        run.sub_rewards[name] = result.reward
        run.absorb(result)
        run.sampled_model = run.sampled_model or result.sampled_model
    try:
        formula = parse_formula(str(grader.get("calculate_output", "")))
    except ExpressionError:
        return run.fail("formula_parse_error")
    if any(run.errors[flag] for flag in ERROR_FLAGS):
        return run  # a sub-grader failed: reward 0, its flags and the others' rewards reported
    try:
        run.reward = formula.evaluate(run.sub_rewards)
    except ExpressionError as error:
        return run.fail("invalid_variable_error" if error.variable else "other_error")
    return run
