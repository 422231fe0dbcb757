"""The fine-tuning methods' hyperparameters: which method takes which, and the values the API
accepts (FineTune{Supervised,DPO,Reinforcement}Hyperparameters in the OpenAPI description).

One table for the two sides that check them: `ftctl create` refuses a bad value before anything is
sent (ftctl.service.jobs), and the mock refuses it as the service does (ftctl.mock.params).
"""

from __future__ import annotations

from dataclasses import dataclass

REASONING_EFFORTS = ("default", "low", "medium", "high")


@dataclass(frozen=True)
class Range:
    """A numeric hyperparameter's accepted values."""

    low: float
    high: float | None = None
    low_exclusive: bool = False
    integer: bool = False

    def admits(self, value: float) -> bool:
        if value <= self.low if self.low_exclusive else value < self.low:
            return False
        return self.high is None or value <= self.high

    def text(self) -> str:
        parts = [f"{'greater than' if self.low_exclusive else 'at least'} {self.low:g}"]
        if self.high is not None:
            parts.append(f"at most {self.high:g}")
        return " and ".join(parts)


RANGES: dict[str, Range] = {
    "n_epochs": Range(1, 50, integer=True),
    "batch_size": Range(1, 256, integer=True),
    "eval_interval": Range(1, None, integer=True),
    "eval_samples": Range(1, None, integer=True),
    "learning_rate_multiplier": Range(0, None, low_exclusive=True),
    "beta": Range(0, 2, low_exclusive=True),
    "compute_multiplier": Range(0.00001, 10, low_exclusive=True),
}

# In the order the service lists them in a job object. A hyperparameter another method lacks is
# refused, not silently dropped.
_COMMON = ("batch_size", "learning_rate_multiplier", "n_epochs")
METHOD_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "supervised": _COMMON,
    "dpo": (*_COMMON, "beta"),
    "reinforcement": (
        *_COMMON,
        "eval_interval",
        "eval_samples",
        "compute_multiplier",
        "reasoning_effort",
    ),
}
