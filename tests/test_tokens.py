"""ftctl's offline encodings are tiktoken's own: same split pattern, special tokens and ranks."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pytest
from tiktoken_ext import openai_public
from typer.testing import CliRunner

from ftctl.cli.app import app
from ftctl.prepare.records import CHAT, EXAMPLE_TOKENS, TokenCounter, check_record
from ftctl.tokens import (
    OrdinaryEncoding,
    WordCounter,
    chat_tokens,
    encoding_name_for_model,
    get_encoding,
)
from tests.support.mock_server import running_mock


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_encoding_matches_tiktokens_definition(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # tiktoken's constructors fetch the rank file over the network; the rest is their definition.
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *args, **kwargs: {})
    definition = getattr(openai_public, name)()
    encoding = get_encoding(name)
    assert encoding._pat_str == definition["pat_str"]
    assert encoding._special_tokens == definition["special_tokens"]
    assert encoding.n_vocab == max(definition["special_tokens"].values()) + 1


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        # Known tiktoken outputs.
        ("hello world", "cl100k_base", [15339, 1917]),
        ("hello world", "o200k_base", [24912, 2375]),
    ],
)
def test_known_token_ids(text: str, name: str, expected: list[int]) -> None:
    assert get_encoding(name).encode_ordinary(text) == expected


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("ft:gpt-4o-2024-08-06:acme::abc", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("davinci-002", "cl100k_base"),
        ("ft:babbage-002:acme::abc", "cl100k_base"),
        ("gpt-5-2030-01-01", "o200k_base"),  # not in the table: by its family
        # retired: their own encodings (p50k, r50k) are not bundled; counted as their successor's
        ("text-davinci-003", "cl100k_base"),
        ("davinci", "cl100k_base"),
    ],
)
def test_encoding_by_model(model: str, name: str) -> None:
    assert encoding_name_for_model(model) == name


def test_chat_tokens_is_the_cookbooks_count_for_a_chat_request() -> None:
    encoding = get_encoding("cl100k_base")
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi", "name": "ann"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
    ]
    encoded = sum(
        len(encoding.encode_ordinary(s))
        for s in ("system", "You are terse.", "user", "Hi", "ann", "assistant", "Hello.")
    )
    assert chat_tokens(messages, encoding) == 3 * 3 + 1 + 3 + encoded


_PIECES = [
    *"aAbsdmtlLvreST'’\".,!?;:-_/#()[]<>|@&*+=%$^~`\\0123456789",
    *[" "] * 10,
    *["\n", "\r", "\t", "\x0b", "\x85", "\xa0", "\u2028", "\u3000", "\u200b"],
    *"éÉßǅ東京あ한😀\u0301İı٣²Ⅻ",
    "\ud800",
    "<|endoftext|>",
    "'s",
    "'LL",
    " '",
]
_WORDS = ["the", "The", "don't", "O'Brien", "a/b", "3.14", "2024", "café", "東京", "12345678"]
_WORDS += ["...", "?!", "—", "hello,", "world.", "\n\n###\n\n", " ->", ".\n", " END", "\n"]


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)

    def scramble(most: int) -> str:
        return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, most)))

    texts = []
    for _ in range(count):
        shape = rng.random()
        if shape < 0.35:
            texts.append(scramble(30))
        else:
            words = [
                rng.choice(_WORDS) if rng.random() < 0.7 else scramble(4)
                for _ in range(rng.randint(0, 14))
            ]
            lead = rng.choice(["", " ", "  "]) if rng.random() < 0.3 else ""
            tail = rng.choice(["", "\n", " ", "  ", " END", "."])
            texts.append(lead + " ".join(words) + tail)
    return texts


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize("max_words", [WordCounter.MAX_WORDS, 8])
def test_word_counter_equals_encode_ordinary(
    name: str, max_words: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Word counts are reused only where tiktoken's split would cut there too; tiny tables also
    # exercise the reset when a table fills up.
    monkeypatch.setattr(WordCounter, "MAX_WORDS", max_words)
    encoding = get_encoding(name)
    counter = WordCounter(encoding)
    mismatches = [
        (text, counter(text), len(encoding.encode_ordinary(text)))
        for text in _texts(seed=len(name) + max_words, count=6000)
        if counter(text) != len(encoding.encode_ordinary(text))
    ]
    assert mismatches == []


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_ordinary_encoding_is_tiktokens_encode_ordinary(name: str) -> None:
    # lone surrogates ("\ud800" among the pieces) take tiktoken's replacement path
    lean, full = OrdinaryEncoding(name), get_encoding(name)
    texts = _texts(seed=7, count=3000)
    assert [lean.encode_ordinary(t) for t in texts] == [full.encode_ordinary(t) for t in texts]


def test_ordinary_encoding_keeps_no_python_copy_of_the_ranks() -> None:
    # tiktoken.Encoding keeps the dict it was built from, 26 MB for o200k_base, in every process
    # that counts; the Rust encoder holds the ranks already
    tracemalloc.start()
    try:
        encoding = OrdinaryEncoding("o200k_base")
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak > 20_000_000  # the ranks were read ...
    assert kept < 1_000_000  # ... and let go
    assert encoding.encode_ordinary("hello world") == [24912, 2375]


# -- the billed count, on the one real billed job on record ---------------------------------------

SARCASTIC = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "sarcastic.jsonl"
BILLED = 5070  # trained_tokens of ftjob-3o5px4rAPMA9vclJsNSlJQi0 (fixtures/recorded/README.md)


def test_training_tokens_are_the_cookbooks_count_less_the_reply_priming() -> None:
    """Per example: the cookbook's 3 per message and its strings, 1 per example instead of the
    3 that prime a chat request's reply."""
    encoding = get_encoding("cl100k_base")
    counter = TokenCounter(encoding.encode_ordinary)
    for line in SARCASTIC.read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        result = check_record(example, CHAT, counter)
        assert result.issues == []
        cookbook = chat_tokens(example["messages"], encoding)
        assert result.tokens == cookbook - 3 + EXAMPLE_TOKENS == cookbook - 2


@pytest.mark.parametrize("model", ["gpt-3.5-turbo-0613", "gpt-3.5-turbo-0125"])
def test_prepare_reports_what_the_service_billed(model: str) -> None:
    result = CliRunner().invoke(
        app, ["prepare", "--json", "-f", str(SARCASTIC), "-m", model], catch_exceptions=False
    )
    data = json.loads(result.stdout)
    assert (data["examples"], data["n_epochs"], data["billed_tokens"]) == (10, 10, BILLED)
    assert data["tokens"]["total"] == BILLED // 10
    if model == "gpt-3.5-turbo-0613":  # the job's own model is retired: costed, then refused
        assert result.exit_code == 2
        assert data["errors"] == {"model_not_tunable": 1}
        assert data["problems"] == [
            f"{SARCASTIC}: gpt-3.5-turbo-0613 is retired (its current equivalent is "
            "gpt-3.5-turbo-0125); train chat data with -m gpt-3.5-turbo-0125 [model_not_tunable]"
        ]
    else:
        assert result.exit_code == 0 and data["problems"] == []


def test_the_mock_bills_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ftctl create` on the file, against the mock on loopback: trained_tokens 5070."""
    with running_mock(speed=5000) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-mock-test")
        monkeypatch.setenv("FTCTL_POLL_INTERVAL", "0.01")
        args = ["-t", str(SARCASTIC), "-m", "gpt-3.5-turbo-0125", "--n-epochs", "10", "--yes"]
        result = CliRunner().invoke(app, ["create", *args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        # --json while following: the created job, then its events, one object per line
        job_id = json.loads(result.stdout.splitlines()[0])["id"]
        got = CliRunner().invoke(app, ["get", "-i", job_id, "--json"], catch_exceptions=False)
        job = json.loads(got.stdout)
        assert (job["status"], job["trained_tokens"]) == ("succeeded", BILLED)
