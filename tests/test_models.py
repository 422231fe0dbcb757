"""The one table of model facts, and the mock's catalog checked against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ftctl import models
from ftctl.errors import RetiredModelError, UsageError
from ftctl.mock.catalog import BASE_MODELS, snapshot_of
from ftctl.models import (
    MODEL_FACTS,
    base_model,
    check_method,
    check_not_retired,
    model_facts,
    models_offering,
    offers_method,
    training_limit,
    uses_completions_endpoint,
)
from ftctl.prepare.report import model_problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("ft:gpt-4o-mini-2024-07-18:acme:weather:B7R9VjQd", "gpt-4o-mini-2024-07-18"),
        ("ft:gpt-4o-mini-2024-07-18:acme::B7R9VjQd:ckpt-step-88", "gpt-4o-mini-2024-07-18"),
        ("ft:davinci-002:acme::abc", "davinci-002"),
        ("ada:ft-personal-2023-01-07-16-46-46", "ada"),  # the legacy /v1/fine-tunes naming
        ("gpt-4o", "gpt-4o"),
        ("my-model", "my-model"),
    ],
)
def test_base_model(name: str, base: str) -> None:
    assert base_model(name) == base


def test_base_model_is_parsed_in_one_place() -> None:
    """No other module splits `ft:` names itself."""
    offenders = []
    for path in (ROOT / "ftctl").rglob("*.py"):
        if path.name == "models.py" and path.parent.name == "ftctl":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r'startswith\("ft:"\)|split\(":"', text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_aliases_carry_their_snapshots_facts() -> None:
    aliases = [f for f in MODEL_FACTS.values() if f.snapshot is not None]
    assert {a.name for a in aliases} >= {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "o4-mini"}
    for alias in aliases:
        snapshot = MODEL_FACTS[alias.snapshot or ""]
        assert snapshot.snapshot is None
        assert (alias.endpoint, alias.methods, alias.encoding, alias.training_limit) == (
            snapshot.endpoint,
            snapshot.methods,
            snapshot.encoding,
            snapshot.training_limit,
        )


def test_methods() -> None:
    assert models_offering("reinforcement") == ["o4-mini-2025-04-16"]
    assert offers_method("o4-mini", "reinforcement")
    assert not offers_method("o4-mini", "supervised")
    assert set(models_offering("dpo")) == {
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
    }
    assert not offers_method("gpt-3.5-turbo-0125", "dpo")
    assert not offers_method("davinci-002", "dpo")
    assert models_offering("supervised", "completions") == ["davinci-002", "babbage-002"]
    # a tune takes its base's methods (continued fine-tuning)
    assert offers_method("ft:gpt-4.1-mini-2025-04-14:acme::x1", "dpo")
    # a name the table does not know: the service judges it; only supervised is assumed
    assert offers_method("gpt-9-2031-01-01", "supervised")
    assert not offers_method("gpt-9-2031-01-01", "dpo")


def test_check_method_names_the_models_that_offer_it() -> None:
    check_method("gpt-4o-mini", "dpo")
    with pytest.raises(UsageError) as caught:
        check_method("gpt-4o-mini-2024-07-18", "reinforcement")
    assert caught.value.message == (
        "model 'gpt-4o-mini-2024-07-18' does not offer the reinforcement method "
        "(it offers dpo or supervised)"
    )
    assert caught.value.hint == "reinforcement runs on o4-mini-2025-04-16"
    with pytest.raises(UsageError) as caught:
        check_method("gpt-3.5-turbo-instruct", "supervised")
    assert "cannot be fine-tuned" in caught.value.message
    with pytest.raises(UsageError, match="unknown fine-tuning method 'rlhf'"):
        check_method("gpt-4o", "rlhf")


@pytest.mark.parametrize(
    ("name", "successor"),
    [
        ("davinci", "davinci-002"),
        ("curie", "davinci-002"),
        ("babbage", "babbage-002"),
        ("ada", "babbage-002"),
        ("text-davinci-003", "gpt-3.5-turbo-instruct"),
        ("text-davinci-002", "gpt-3.5-turbo-instruct"),
        ("text-davinci-001", "gpt-3.5-turbo-instruct"),
        ("text-curie-001", "gpt-3.5-turbo-instruct"),
        ("text-babbage-001", "gpt-3.5-turbo-instruct"),
        ("text-ada-001", "gpt-3.5-turbo-instruct"),
        ("code-davinci-002", "gpt-3.5-turbo-instruct"),
        ("ada:ft-personal-2023-01-07-16-46-46", "babbage-002"),
    ],
)
def test_retired_completion_models_name_their_equivalent(name: str, successor: str) -> None:
    facts = model_facts(name)
    assert facts is not None and facts.retired and facts.endpoint == "completions"
    with pytest.raises(RetiredModelError) as caught:
        check_not_retired(name)
    assert caught.value.message == (
        f"model '{name}' is retired; its current equivalent is '{successor}'"
    )
    assert caught.value.hint is not None and successor in caught.value.hint
    # the successor is a live model served by the same endpoint
    live = MODEL_FACTS[successor]
    assert not live.retired and live.endpoint == "completions"


def test_a_non_tunable_successor_says_what_to_fine_tune_instead() -> None:
    with pytest.raises(RetiredModelError) as caught:
        check_not_retired("text-davinci-002")
    assert caught.value.hint == (
        "use -m gpt-3.5-turbo-instruct to sample; to fine-tune, use davinci-002 for "
        "prompt/completion data or a chat model such as gpt-4o-mini-2024-07-18"
    )


@pytest.mark.parametrize(
    ("name", "completions"),
    [
        ("davinci-002", True),
        ("ft:babbage-002:acme::x", True),
        ("gpt-3.5-turbo-instruct", True),
        ("text-davinci-002", True),
        ("gpt-4o-mini", False),
        ("ft:gpt-4o-2024-08-06:acme::x", False),
        ("o4-mini", False),
        ("unknown-model", False),
    ],
)
def test_endpoint(name: str, completions: bool) -> None:
    assert uses_completions_endpoint(name) is completions


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("gpt-4o-mini-2024-07-18", 65_536),
        ("ft:gpt-4.1-nano-2025-04-14:acme::x", 65_536),
        ("gpt-3.5-turbo", 16_385),
        ("gpt-3.5-turbo-0613", 4_096),
        ("davinci-002", 16_384),
        ("unknown-model", models.DEFAULT_LIMIT),
    ],
)
def test_training_limit(name: str, limit: int) -> None:
    assert training_limit(name) == limit


def test_mock_catalog_agrees_with_the_table() -> None:
    for name, base in BASE_MODELS.items():
        facts = MODEL_FACTS[name]
        assert base.chat is (facts.endpoint == "chat")
        assert base.tunable is facts.fine_tunable
        assert base.dpo is ("dpo" in facts.methods)
        assert snapshot_of(base) == (facts.snapshot or name)
    # every model that can be fine-tuned today is one the mock offers, and nothing retired is
    tunable = {f.name for f in MODEL_FACTS.values() if f.fine_tunable}
    assert tunable <= set(BASE_MODELS)
    assert not [b for b in BASE_MODELS.values() if b.facts.retired]


@pytest.mark.parametrize(
    ("fmt", "model", "problem"),
    [
        ("chat", "gpt-4o-mini", None),
        ("preference", "gpt-4.1-nano", None),
        ("reinforcement", "o4-mini", None),
        ("prompt_completion", "ft:babbage-002:acme::x", None),
        (
            "prompt_completion",
            "text-davinci-003",
            "text-davinci-003 is retired (its current equivalent is gpt-3.5-turbo-instruct); "
            "train prompt/completion data with -m davinci-002",
        ),
        (
            "prompt_completion",
            "ada",
            "ada is retired (its current equivalent is babbage-002); "
            "train prompt/completion data with -m babbage-002",
        ),
        (
            "chat",
            "gpt-3.5-turbo-0613",
            "gpt-3.5-turbo-0613 is retired (its current equivalent is gpt-3.5-turbo-0125); "
            "train chat data with -m gpt-3.5-turbo-0125",
        ),
        (
            "preference",
            "gpt-4-0613",
            "gpt-4-0613 cannot be fine-tuned; train preference data with -m gpt-4.1-2025-04-14",
        ),
        (
            "reinforcement",
            "gpt-4.1",
            "reinforcement data trains with the reinforcement method, which gpt-4.1 does not "
            "offer; reinforcement runs on o4-mini-2025-04-16",
        ),
    ],
)
def test_model_problem_names_the_model_to_use_instead(
    fmt: str, model: str, problem: str | None
) -> None:
    found = model_problem(fmt, model)
    assert (found[1] if found else None) == problem
