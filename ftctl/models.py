"""Facts about model names: which are retired, which speak /v1/completions."""

from __future__ import annotations

from ftctl.errors import RetiredModelError

# OpenAI retired the original GPT-3 bases in January 2024; these are the replacements it named.
RETIRED_BASE_MODELS: dict[str, str] = {
    "davinci": "davinci-002",
    "curie": "davinci-002",
    "babbage": "babbage-002",
    "ada": "babbage-002",
}

COMPLETION_BASE_MODELS = frozenset({"davinci-002", "babbage-002", "gpt-3.5-turbo-instruct"})


def base_of(model: str) -> str:
    """The base model of a tune (`ft:davinci-002:org:suffix:id` -> `davinci-002`), else the name."""
    if model.startswith("ft:"):
        return model.split(":", 2)[1]
    return model


def check_not_retired(model: str) -> None:
    """Refuse a retired base model before any request is sent."""
    replacement = RETIRED_BASE_MODELS.get(model)
    if replacement is None and model.startswith("ft:"):
        replacement = RETIRED_BASE_MODELS.get(base_of(model))
    if replacement is not None:
        raise RetiredModelError(
            f"model '{model}' is retired; its current equivalent is '{replacement}'",
            hint=f"use -m {replacement} for prompt/completion data, or a chat model "
            "such as gpt-4o-mini-2024-07-18 for chat data",
        )


def uses_completions_endpoint(model: str) -> bool:
    """True for models served by /v1/completions rather than /v1/chat/completions."""
    return base_of(model) in COMPLETION_BASE_MODELS


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

MIN_TRAINING_EXAMPLES = 10  # the service rejects smaller training files

# The cookbook's constants.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def training_limit(model: str) -> int:
    """Tokens per example the model trains on (65,536 for gpt-4o*, 16,385 for gpt-3.5-turbo)."""
    base = base_of(model)
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
