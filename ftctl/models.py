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
