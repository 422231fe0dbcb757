"""Token statistics, as OpenAI's cookbook reports them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Service facts shared with the mock live in ftctl.models; re-exported for prepare's modules.
from ftctl.models import MIN_TRAINING_EXAMPLES as MIN_EXAMPLES
from ftctl.models import default_epochs, training_limit

__all__ = ["MIN_EXAMPLES", "Distribution", "default_epochs", "distribution", "training_limit"]


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
