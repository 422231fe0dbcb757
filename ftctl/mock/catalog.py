"""The base models the mock offers: today's fine-tunable snapshots, their undated aliases, and a few
models that exist but cannot be tuned (so "known but not fine-tunable" is a real case).

What each model can do comes from the one table of model facts (ftctl.models); this module adds
only what the mock needs beyond it: the `created` time `GET /models` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftctl.models import MODEL_FACTS, Method, ModelFacts


@dataclass(frozen=True)
class BaseModel:
    id: str
    created: int
    facts: ModelFacts

    @property
    def chat(self) -> bool:
        """Served by /v1/chat/completions (else /v1/completions)."""
        return self.facts.endpoint == "chat"

    @property
    def tunable(self) -> bool:
        return self.facts.fine_tunable

    @property
    def methods(self) -> frozenset[Method]:
        return self.facts.methods

    @property
    def dpo(self) -> bool:
        return "dpo" in self.facts.methods

    @property
    def snapshot(self) -> str | None:
        """For an alias: the dated snapshot it resolves to."""
        return self.facts.snapshot


# (name, created) of every model the mock lists, dated snapshots first.
_CREATED: tuple[tuple[str, int], ...] = (
    ("gpt-4.1-2025-04-14", 1744316542),
    ("gpt-4.1-mini-2025-04-14", 1744317547),
    ("gpt-4.1-nano-2025-04-14", 1744321025),
    ("gpt-4o-2024-08-06", 1722814719),
    ("gpt-4o-mini-2024-07-18", 1721172717),
    ("gpt-3.5-turbo-0125", 1706048358),
    ("gpt-3.5-turbo-1106", 1698959748),
    ("o4-mini-2025-04-16", 1744761600),  # the snapshot's date, 00:00 UTC
    ("davinci-002", 1692634301),
    ("babbage-002", 1692634615),
    ("gpt-4.1", 1744316542),
    ("gpt-4.1-mini", 1744318173),
    ("gpt-4.1-nano", 1744321707),
    ("gpt-4o", 1715367049),
    ("gpt-4o-mini", 1721172741),
    ("gpt-3.5-turbo", 1677610602),
    ("o4-mini", 1744761600),
    # Known, usable for sampling, but not fine-tunable.
    ("gpt-3.5-turbo-instruct", 1692901427),
    ("gpt-4-0613", 1686588896),
)

BASE_MODELS: dict[str, BaseModel] = {
    name: BaseModel(name, created, MODEL_FACTS[name]) for name, created in _CREATED
}


def snapshot_of(model: BaseModel) -> str:
    """The dated name a tune is named after (`gpt-4o-mini` -> `gpt-4o-mini-2024-07-18`)."""
    return model.facts.dated
