"""The one table of model facts: per model name (dated snapshot or undated alias), the endpoint it
is served by, the fine-tuning methods it offers, its training token limit, its tiktoken encoding,
and, for a retired model, the current equivalent to use instead.

Everything that asks "can this model do X" asks here: prepare, create, complete, and the mock's
catalog (ftctl/mock/catalog.py builds its model list from this table). Nothing here imports Typer,
Rich or openai.

Sources (checked 2026-12): OpenAI's fine-tuning guides (supervised, DPO and reinforcement pages,
"Use with" tables; the token-limit table of the fine-tuning guide), the deprecations page (the
2023-07-06 and 2024 retirements and their recommended replacements), and the OpenAPI description
(`CreateCompletionRequest.model` lists the models /v1/completions serves).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ftctl.errors import RetiredModelError, UsageError

Endpoint = Literal["chat", "completions"]
Method = Literal["supervised", "dpo", "reinforcement"]
METHODS: tuple[Method, ...] = ("supervised", "dpo", "reinforcement")

SUPERVISED: frozenset[Method] = frozenset({"supervised"})
SUPERVISED_DPO: frozenset[Method] = frozenset({"supervised", "dpo"})
REINFORCEMENT: frozenset[Method] = frozenset({"reinforcement"})
NONE: frozenset[Method] = frozenset()


@dataclass(frozen=True)
class ModelFacts:
    """What is known about one model name."""

    name: str
    endpoint: Endpoint
    methods: frozenset[Method]  # fine-tuning methods offered; empty: cannot be fine-tuned
    encoding: str  # tiktoken encoding name
    training_limit: int | None = None  # tokens per training example (longer ones are truncated)
    snapshot: str | None = None  # for an undated alias: the dated snapshot it resolves to
    successor: str | None = None  # set for a retired model: its current equivalent

    @property
    def retired(self) -> bool:
        return self.successor is not None

    @property
    def fine_tunable(self) -> bool:
        return bool(self.methods) and not self.retired

    @property
    def dated(self) -> str:
        """The dated name a tune is named after (`gpt-4o-mini` -> `gpt-4o-mini-2024-07-18`)."""
        return self.snapshot or self.name


def _chat(
    name: str,
    methods: frozenset[Method],
    encoding: str,
    limit: int | None,
    snapshot: str | None = None,
    successor: str | None = None,
) -> ModelFacts:
    return ModelFacts(name, "chat", methods, encoding, limit, snapshot, successor)


def _completions(
    name: str,
    methods: frozenset[Method],
    encoding: str,
    limit: int | None = None,
    successor: str | None = None,
) -> ModelFacts:
    return ModelFacts(name, "completions", methods, encoding, limit, None, successor)


O200K = "o200k_base"
CL100K = "cl100k_base"
P50K = "p50k_base"
R50K = "r50k_base"

_TABLE: tuple[ModelFacts, ...] = (
    # Fine-tunable chat snapshots. DPO: the gpt-4.1 family (the DPO guide's "Use with") and
    # gpt-4o / gpt-4o-mini, where DPO launched (December 2024).
    _chat("gpt-4.1-2025-04-14", SUPERVISED_DPO, O200K, 65_536),
    _chat("gpt-4.1-mini-2025-04-14", SUPERVISED_DPO, O200K, 65_536),
    _chat("gpt-4.1-nano-2025-04-14", SUPERVISED_DPO, O200K, 65_536),
    _chat("gpt-4o-2024-08-06", SUPERVISED_DPO, O200K, 65_536),
    _chat("gpt-4o-mini-2024-07-18", SUPERVISED_DPO, O200K, 65_536),
    _chat("gpt-3.5-turbo-0125", SUPERVISED, CL100K, 16_385),
    _chat("gpt-3.5-turbo-1106", SUPERVISED, CL100K, 16_385),
    # Reinforcement fine-tuning runs on the reasoning model o4-mini only; no per-example
    # training limit is published for it.
    _chat("o4-mini-2025-04-16", REINFORCEMENT, O200K, None),
    # Undated aliases: the same facts as the snapshot they resolve to.
    _chat("gpt-4.1", SUPERVISED_DPO, O200K, 65_536, snapshot="gpt-4.1-2025-04-14"),
    _chat("gpt-4.1-mini", SUPERVISED_DPO, O200K, 65_536, snapshot="gpt-4.1-mini-2025-04-14"),
    _chat("gpt-4.1-nano", SUPERVISED_DPO, O200K, 65_536, snapshot="gpt-4.1-nano-2025-04-14"),
    _chat("gpt-4o", SUPERVISED_DPO, O200K, 65_536, snapshot="gpt-4o-2024-08-06"),
    _chat("gpt-4o-mini", SUPERVISED_DPO, O200K, 65_536, snapshot="gpt-4o-mini-2024-07-18"),
    _chat("gpt-3.5-turbo", SUPERVISED, CL100K, 16_385, snapshot="gpt-3.5-turbo-0125"),
    _chat("o4-mini", REINFORCEMENT, O200K, None, snapshot="o4-mini-2025-04-16"),
    # Chat models that answer but are not offered for fine-tuning (gpt-4-0613 was experimental
    # access only).
    _chat("gpt-4-0613", NONE, CL100K, None),
    # Retired chat snapshots (shut down 2024-06-13 and 2024-09-13); the tunes and the bill of
    # the one real job on record (sarcastic.jsonl) still name gpt-3.5-turbo-0613.
    _chat("gpt-3.5-turbo-0301", NONE, CL100K, 4_096, successor="gpt-3.5-turbo-0125"),
    _chat("gpt-3.5-turbo-0613", SUPERVISED, CL100K, 4_096, successor="gpt-3.5-turbo-0125"),
    # Completion bases of /v1/fine_tuning/jobs, and the completion model that cannot be tuned.
    _completions("davinci-002", SUPERVISED, CL100K, 16_384),
    _completions("babbage-002", SUPERVISED, CL100K, 16_384),
    _completions("gpt-3.5-turbo-instruct", NONE, CL100K),
    # Completion models retired on 2024-01-04, each with the replacement OpenAI named: the GPT-3
    # bases (tuned by the legacy /v1/fine-tunes API) map to the new tunable bases; the
    # instruction-following and code models map to gpt-3.5-turbo-instruct.
    _completions("davinci", SUPERVISED, R50K, successor="davinci-002"),
    _completions("curie", SUPERVISED, R50K, successor="davinci-002"),
    _completions("babbage", SUPERVISED, R50K, successor="babbage-002"),
    _completions("ada", SUPERVISED, R50K, successor="babbage-002"),
    _completions("text-davinci-003", NONE, P50K, successor="gpt-3.5-turbo-instruct"),
    _completions("text-davinci-002", NONE, P50K, successor="gpt-3.5-turbo-instruct"),
    _completions("text-davinci-001", NONE, R50K, successor="gpt-3.5-turbo-instruct"),
    _completions("text-curie-001", NONE, R50K, successor="gpt-3.5-turbo-instruct"),
    _completions("text-babbage-001", NONE, R50K, successor="gpt-3.5-turbo-instruct"),
    _completions("text-ada-001", NONE, R50K, successor="gpt-3.5-turbo-instruct"),
    _completions("davinci-instruct-beta", NONE, R50K, successor="gpt-3.5-turbo-instruct"),
    _completions("curie-instruct-beta", NONE, R50K, successor="gpt-3.5-turbo-instruct"),
    _completions("code-davinci-002", NONE, P50K, successor="gpt-3.5-turbo-instruct"),
    _completions("code-cushman-001", NONE, P50K, successor="gpt-3.5-turbo-instruct"),
)

MODEL_FACTS: dict[str, ModelFacts] = {facts.name: facts for facts in _TABLE}

# When a name is not in the table: the prefixes of the families we know the encoding of.
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")
DEFAULT_LIMIT = 16_385


def base_model(model: str) -> str:
    """The base a tuned model was trained from, else the name itself.

    `ft:gpt-4o-mini-2024-07-18:org:suffix:id` (and its `:ckpt-step-N` checkpoints) ->
    `gpt-4o-mini-2024-07-18`; the legacy API's `ada:ft-personal-2023-01-07-...` -> `ada`.
    """
    if model.startswith("ft:"):
        return model.split(":", 2)[1]
    head, sep, tail = model.partition(":")
    if sep and tail.startswith("ft-"):
        return head
    return model


def model_facts(model: str) -> ModelFacts | None:
    """The facts of a model, of its base for a tuned model, or None for a name not in the table."""
    return MODEL_FACTS.get(base_model(model))


def _join(names: Iterable[str]) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def models_offering(method: str, endpoint: Endpoint | None = None) -> list[str]:
    """Dated snapshots (no aliases, nothing retired) that offer method, in table order; only
    those served by endpoint when it is given."""
    return [
        f.name
        for f in _TABLE
        if method in f.methods
        and f.snapshot is None
        and not f.retired
        and endpoint in (None, f.endpoint)
    ]


def offers_method(model: str, method: str) -> bool:
    """True when model (or a tune's base) offers method; unknown names are given the benefit of
    the doubt for supervised only, since the service is the judge of names we do not know."""
    facts = model_facts(model)
    if facts is None:
        return method == "supervised"
    return method in facts.methods


def check_method(model: str, method: str) -> None:
    """Refuse, before anything is sent, a method that model does not offer."""
    if method not in METHODS:
        raise UsageError(
            f"unknown fine-tuning method '{method}'",
            hint=f"use one of {', '.join(METHODS)}",
        )
    if offers_method(model, method):
        return
    facts = model_facts(model)
    offered = sorted(facts.methods) if facts is not None else []
    what = f"offers {_join(offered)}" if offered else "cannot be fine-tuned"
    raise UsageError(
        f"model '{model}' does not offer the {method} method (it {what})",
        hint=f"{method} runs on {_join(models_offering(method))}",
    )


def check_not_retired(model: str) -> None:
    """Refuse a retired model (or a tune of one) before any request is sent."""
    facts = model_facts(model)
    if facts is None or facts.successor is None:
        return
    replacement = facts.successor
    successor = MODEL_FACTS.get(replacement)
    if successor is not None and successor.endpoint == "completions" and successor.fine_tunable:
        hint = (
            f"use -m {replacement} for prompt/completion data, or a chat model "
            "such as gpt-4o-mini-2024-07-18 for chat data"
        )
    elif successor is not None and successor.fine_tunable:
        hint = f"use -m {replacement}"
    else:
        hint = (
            f"use -m {replacement} to sample; to fine-tune, use davinci-002 for "
            "prompt/completion data or a chat model such as gpt-4o-mini-2024-07-18"
        )
    raise RetiredModelError(
        f"model '{model}' is retired; its current equivalent is '{replacement}'", hint=hint
    )


def uses_completions_endpoint(model: str) -> bool:
    """True for models served by /v1/completions rather than /v1/chat/completions."""
    facts = model_facts(model)
    return facts is not None and facts.endpoint == "completions"


def encoding_name(model: str) -> str:
    """The model's tiktoken encoding (for a name not in the table, by its family's prefix)."""
    facts = model_facts(model)
    if facts is not None:
        return facts.encoding
    return O200K if base_model(model).startswith(_O200K_PREFIXES) else CL100K


def training_limit(model: str) -> int:
    """Tokens per example the model trains on (65,536 for gpt-4o* and gpt-4.1*, 16,385 for
    gpt-3.5-turbo); DEFAULT_LIMIT where none is known."""
    facts = model_facts(model)
    if facts is not None and facts.training_limit is not None:
        return facts.training_limit
    return DEFAULT_LIMIT


MIN_TRAINING_EXAMPLES = 10  # the service rejects smaller training files

# The cookbook's constants.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


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
