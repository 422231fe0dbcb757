"""Training prices: dated tables in the package, overridable without a release.

Supervised and DPO jobs are billed per training token: USD per 1M *training* tokens, as OpenAI
published them (dated below). Reinforcement jobs are billed per hour of training time, plus model
grader tokens (`TRAINING_PRICE_PER_HOUR`). They change: to
use other figures, point FTCTL_PRICES at a JSON file mapping model names (or prefixes) to USD per
1M training tokens, e.g. `{"gpt-4o-mini": 3.0, "my-model": 1.25}`, or pass `--price` to
`ftctl prepare`. Nothing here imports Typer, Rich or openai.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ftctl.errors import UsageError
from ftctl.models import base_model

PRICES_DATE = "2025-06"
PRICES_SOURCE = "https://openai.com/api/pricing/ (fine-tuning, training per 1M tokens)"
PRICES_ENV = "FTCTL_PRICES"

# USD per 1M training tokens. Longest matching prefix wins (gpt-4o-mini before gpt-4o).
TRAINING_PRICE_PER_1M: dict[str, float] = {
    "gpt-4o-mini": 3.00,
    "gpt-4o": 25.00,
    "gpt-4.1-nano": 1.50,
    "gpt-4.1-mini": 5.00,
    "gpt-4.1": 25.00,
    "gpt-3.5-turbo": 8.00,
    "davinci-002": 6.00,
    "babbage-002": 0.40,
}


# Reinforcement fine-tuning is billed by time, not tokens: USD per hour of wall-clock time in
# the core training loop (prorated to the second), plus the tokens any model grader consumes at
# that model's ordinary API rates. Source: OpenAI's "Billing guide for the Reinforcement Fine
# Tuning API" (help.openai.com/en/articles/11323177), as of the date below.
TRAINING_HOUR_PRICES_DATE = "2025-05"
TRAINING_HOUR_PRICES_SOURCE = "https://help.openai.com/en/articles/11323177"
TRAINING_PRICE_PER_HOUR: dict[str, float] = {
    "o4-mini": 100.00,
}


def load_overrides(path: str | Path | None = None) -> dict[str, float]:
    """Prices from a JSON file (the FTCTL_PRICES file when path is None); {} when none is set."""
    where = path if path is not None else os.environ.get(PRICES_ENV)
    if not where:
        return {}
    try:
        data = json.loads(Path(where).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(
            f"{where}: cannot read the price file ({exc.strerror or exc})",
            hint=f"fix or unset {PRICES_ENV}",
        ) from None
    except ValueError as exc:
        raise UsageError(f"{where}: price file is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
        for k, v in data.items()
    ):
        raise UsageError(
            f"{where}: price file must map model names to USD per 1M training tokens",
            hint='e.g. {"gpt-4o-mini": 3.0}',
        )
    return {k: float(v) for k, v in data.items()}


def price_per_1m(model: str, overrides: Mapping[str, float] | None = None) -> float | None:
    """USD per 1M training tokens for model (a snapshot or ft: name works), or None if unknown."""
    base = base_model(model)
    for table in (overrides or {}, TRAINING_PRICE_PER_1M):
        if base in table:
            return table[base]
        matches = [prefix for prefix in table if base.startswith(prefix)]
        if matches:
            return table[max(matches, key=len)]
    return None


def price_per_hour(model: str) -> float | None:
    """USD per training hour for a reinforcement job on model (a snapshot or ft: name works), or
    None if unknown. Longest matching prefix wins."""
    base = base_model(model)
    matches = [prefix for prefix in TRAINING_PRICE_PER_HOUR if base.startswith(prefix)]
    return TRAINING_PRICE_PER_HOUR[max(matches, key=len)] if matches else None


def estimate_cost(
    billed_tokens: int, model: str, overrides: Mapping[str, float] | None = None
) -> float | None:
    """USD for billed_tokens training tokens, rounded to the cent's hundredth; None if unpriced."""
    price = price_per_1m(model, overrides)
    if price is None:
        return None
    return round(billed_tokens * price / 1_000_000, 4)
