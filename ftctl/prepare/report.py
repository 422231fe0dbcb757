"""The report on a JSONL training file (chat, preference or prompt/completion): problems the service
would reject, token distributions, examples over the model's limit, epochs, billed tokens, cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftctl.models import (
    MODEL_FACTS,
    Endpoint,
    ModelFacts,
    model_facts,
    models_offering,
    offers_method,
    uses_completions_endpoint,
)
from ftctl.prepare.grading import add_grader_problems
from ftctl.prepare.records import CHAT, FORMAT_METHOD, PROMPT_COMPLETION, REINFORCEMENT
from ftctl.prepare.scan import Progress, ScanResult, scan_jsonl
from ftctl.prepare.stats import (
    MIN_EXAMPLES,
    Distribution,
    default_epochs,
    distribution,
    training_limit,
)
from ftctl.pricing import estimate_cost, price_per_1m
from ftctl.tokens import encoding_name_for_model


def model_problem(fmt: str, model: str) -> tuple[str, str] | None:
    """(category, why) when model cannot train on fmt data, or None when it can: retired or
    untunable models, the wrong endpoint's format, a method the model does not offer (the data's
    format decides the method: records.FORMAT_METHOD). The facts come from ftctl.models."""
    facts = model_facts(model)
    if facts is not None and not facts.fine_tunable:
        label = "prompt/completion" if fmt == PROMPT_COMPLETION else fmt
        what = (
            f"{model} is retired (its current equivalent is {facts.successor})"
            if facts.retired
            else f"{model} cannot be fine-tuned"
        )
        return "model_not_tunable", f"{what}; train {label} data with -m {_instead(fmt, facts)}"
    completion_model = uses_completions_endpoint(model)
    if fmt == PROMPT_COMPLETION and not completion_model:
        return "wrong_format_for_model", (
            f"prompt/completion data trains only "
            f"{' and '.join(models_offering('supervised', 'completions'))}, not {model}; "
            "convert it with `ftctl prepare --to-chat`"
        )
    if fmt != PROMPT_COMPLETION and completion_model:
        return "wrong_format_for_model", f"{model} trains on prompt/completion data, not {fmt} data"
    method = FORMAT_METHOD[fmt]
    if offers_method(model, method):
        return None
    why = (
        f"{fmt} data trains with the {method} method, which {model} does not offer; "
        f"{method} runs on {', '.join(models_offering(method))}"
    )
    if fmt == CHAT and offers_method(model, "reinforcement"):
        why += "; for reinforcement, give the grader with --grader FILE"
    return "method_not_offered", why


def _instead(fmt: str, facts: ModelFacts) -> str:
    """The model to train fmt data on instead of an untunable one: its successor when that
    takes this data, else the first model that does."""
    method = FORMAT_METHOD[fmt]
    endpoint: Endpoint = "completions" if fmt == PROMPT_COMPLETION else "chat"
    successor = MODEL_FACTS.get(facts.successor or "")
    if (
        successor is not None
        and successor.fine_tunable
        and method in successor.methods
        and successor.endpoint == endpoint
    ):
        return successor.name
    return models_offering(method, endpoint)[0]


@dataclass(frozen=True)
class DataReport:
    path: Path
    format: str
    model: str
    encoding: str
    examples: int
    errors: dict[str, int]
    problems: list[str]
    total_tokens: int
    max_example: int
    assistant_tokens: int
    limit: int
    over_limit: int
    n_epochs: int
    billed_tokens: int
    price_per_1m: float | None
    estimated_cost_usd: float | None
    distributions: dict[str, Distribution | None]
    tokens_counted: bool = True

    @property
    def usable(self) -> bool:
        return not self.errors

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "format": self.format,
            "method": FORMAT_METHOD.get(self.format, "supervised"),
            "model": self.model,
            "encoding": self.encoding,
            "examples": self.examples,
            "usable": self.usable,
            "errors": dict(self.errors),
            "problems": list(self.problems),
            "tokens": {
                "counted": self.tokens_counted,
                "total": self.total_tokens,
                "max_example": self.max_example,
                "assistant": self.assistant_tokens,
                "limit": self.limit,
                "over_limit": self.over_limit,
            },
            "distributions": {
                k: (d.as_dict() if d is not None else None) for k, d in self.distributions.items()
            },
            "n_epochs": self.n_epochs,
            "billed_tokens": self.billed_tokens,
            "price_per_1m_usd": self.price_per_1m,
            "estimated_cost_usd": self.estimated_cost_usd,
        }


def build_report(
    scan: ScanResult,
    model: str,
    prices: Mapping[str, float] | None = None,
    n_epochs: int | None = None,
    *,
    counted: bool = True,
) -> DataReport:
    """The report on a finished scan (counted=False: tokens were not counted, no cost)."""
    limit = training_limit(model)
    if scan.examples < MIN_EXAMPLES:
        scan.add_problem(
            "too_few_examples",
            None,
            None,
            f"{scan.examples} example(s); the service needs at least {MIN_EXAMPLES}",
        )
    mismatch = model_problem(scan.format, model)
    if mismatch is not None and scan.examples:
        scan.add_problem(mismatch[0], None, None, mismatch[1])
    epochs = n_epochs if n_epochs is not None else default_epochs(scan.examples)
    tokens = scan.tokens
    # reinforcement is billed by training time, not tokens: no token bill to estimate
    by_tokens = scan.format != REINFORCEMENT
    billed = epochs * sum(min(limit, t) for t in tokens) if by_tokens else 0
    dists: dict[str, Distribution | None] = {
        "tokens_per_example": distribution(tokens),
        "assistant_tokens_per_example": distribution(scan.assistant_tokens),
    }
    if scan.format != PROMPT_COMPLETION:
        dists = {"messages_per_example": distribution(scan.messages), **dists}
    return DataReport(
        path=scan.path,
        format=scan.format,
        model=model,
        encoding=encoding_name_for_model(model),
        examples=scan.examples,
        errors=dict(scan.counts),
        problems=scan.problem_lines(),
        total_tokens=sum(tokens),
        max_example=max(tokens, default=0),
        assistant_tokens=sum(scan.assistant_tokens),
        limit=limit,
        over_limit=sum(1 for t in tokens if t > limit),
        n_epochs=epochs,
        billed_tokens=billed,
        price_per_1m=price_per_1m(model, prices),
        estimated_cost_usd=(
            estimate_cost(billed, model, prices) if counted and by_tokens else None
        ),
        distributions=dists,
        tokens_counted=counted,
    )


def analyze_jsonl(
    path: Path,
    model: str,
    *,
    prices: Mapping[str, float] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    count_tokens: bool = True,
    grader: Path | None = None,
) -> DataReport:
    """The report on a JSONL file. With a grader file the data is reinforcement data: each line
    is checked as a reinforcement example and against every field the grader reads."""
    encoding = encoding_name_for_model(model) if count_tokens else None
    fmt = REINFORCEMENT if grader is not None else None
    scan = scan_jsonl(path, encoding, fmt=fmt, progress=progress, workers=workers)
    if grader is not None:
        add_grader_problems(scan, grader)
    return build_report(scan, model, prices, counted=count_tokens)
