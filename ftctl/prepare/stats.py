"""Token statistics, training limits and the epoch heuristic, as OpenAI's cookbook has them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Tokens per training example; longer examples are truncated to this many.
_LIMITS: tuple[tuple[str, int], ...] = (
    ("gpt-4o-mini", 65_536),
    ("gpt-4o", 65_536),
    ("gpt-4.1", 65_536),
    ("gpt-3.5-turbo", 16_385),
    ("davinci-002", 16_384),
    ("babbage-002", 16_384),
)
DEFAULT_LIMIT = 16_385

MIN_EXAMPLES = 10  # the service rejects smaller training files

# The cookbook's constants.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def training_limit(model: str) -> int:
    """Tokens per example the model trains on (65,536 for gpt-4o*, 16,385 for gpt-3.5-turbo)."""
    base = model.split(":", 2)[1] if model.startswith("ft:") else model
    for prefix, limit in _LIMITS:
        if base.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


def default_epochs(n_examples: int) -> int:
    """The cookbook heuristic: 3 epochs, more for tiny sets, fewer for huge ones, within 1-25."""
    if n_examples <= 0:
        return TARGET_EPOCHS
    n_epochs = TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return n_epochs


@dataclass(frozen=True)
class Distribution:
    min: int
    max: int
    mean: float
    median: float
    p5: float
    p95: float

    def as_dict(self) -> dict[str, float]:
        return {
            "min": self.min,
            "max": self.max,
            "mean": round(self.mean, 2),
            "median": round(self.median, 2),
            "p5": round(self.p5, 2),
            "p95": round(self.p95, 2),
        }


def _quantile(sorted_values: Sequence[int], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def distribution(values: Sequence[int]) -> Distribution | None:
    if not values:
        return None
    ordered = sorted(values)
    return Distribution(
        min=ordered[0],
        max=ordered[-1],
        mean=sum(ordered) / len(ordered),
        median=_quantile(ordered, 0.5),
        p5=_quantile(ordered, 0.05),
        p95=_quantile(ordered, 0.95),
    )


def billed_tokens(example_tokens: Sequence[int], limit: int, n_epochs: int) -> int:
    return n_epochs * sum(min(limit, t) for t in example_tokens)
