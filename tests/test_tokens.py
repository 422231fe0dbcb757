"""ftctl's offline encodings are tiktoken's own: same split pattern, special tokens and ranks."""

from __future__ import annotations

import random

import pytest
from tiktoken_ext import openai_public

from ftctl.tokens import WordCounter, chat_tokens, encoding_name_for_model, get_encoding


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
    ],
)
def test_encoding_by_model(model: str, name: str) -> None:
    assert encoding_name_for_model(model) == name


def test_chat_tokens_is_the_cookbooks_count() -> None:
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
