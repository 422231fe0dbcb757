"""The base models the mock offers: today's fine-tunable snapshots, their undated aliases, and a few
models that exist but cannot be tuned (so "known but not fine-tunable" is a real case)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseModel:
    id: str
    created: int
    chat: bool  # served by /v1/chat/completions (else /v1/completions)
    tunable: bool
    dpo: bool = False  # supports the `dpo` method
    snapshot: str | None = None  # for an alias: the dated snapshot it resolves to


_MODELS: tuple[BaseModel, ...] = (
    BaseModel("gpt-4.1-2025-04-14", 1744316542, chat=True, tunable=True, dpo=True),
    BaseModel("gpt-4.1-mini-2025-04-14", 1744317547, chat=True, tunable=True, dpo=True),
    BaseModel("gpt-4.1-nano-2025-04-14", 1744321025, chat=True, tunable=True, dpo=True),
    BaseModel("gpt-4o-2024-08-06", 1722814719, chat=True, tunable=True, dpo=True),
    BaseModel("gpt-4o-mini-2024-07-18", 1721172717, chat=True, tunable=True, dpo=True),
    BaseModel("gpt-3.5-turbo-0125", 1706048358, chat=True, tunable=True),
    BaseModel("davinci-002", 1692634301, chat=False, tunable=True),
    BaseModel("babbage-002", 1692634615, chat=False, tunable=True),
    BaseModel(
        "gpt-4.1", 1744316542, chat=True, tunable=True, dpo=True, snapshot="gpt-4.1-2025-04-14"
    ),
    BaseModel(
        "gpt-4.1-mini",
        1744318173,
        chat=True,
        tunable=True,
        dpo=True,
        snapshot="gpt-4.1-mini-2025-04-14",
    ),
    BaseModel(
        "gpt-4.1-nano",
        1744321707,
        chat=True,
        tunable=True,
        dpo=True,
        snapshot="gpt-4.1-nano-2025-04-14",
    ),
    BaseModel(
        "gpt-4o", 1715367049, chat=True, tunable=True, dpo=True, snapshot="gpt-4o-2024-08-06"
    ),
    BaseModel(
        "gpt-4o-mini",
        1721172741,
        chat=True,
        tunable=True,
        dpo=True,
        snapshot="gpt-4o-mini-2024-07-18",
    ),
    BaseModel("gpt-3.5-turbo", 1677610602, chat=True, tunable=True, snapshot="gpt-3.5-turbo-0125"),
    # Known, usable for sampling, but not fine-tunable.
    BaseModel("gpt-3.5-turbo-instruct", 1692901427, chat=False, tunable=False),
    BaseModel("gpt-4-0613", 1686588896, chat=True, tunable=False),
)

BASE_MODELS: dict[str, BaseModel] = {m.id: m for m in _MODELS}


def snapshot_of(model: BaseModel) -> str:
    """The dated name a tune is named after (`gpt-4o-mini` -> `gpt-4o-mini-2024-07-18`)."""
    return model.snapshot or model.id
