"""Exact, offline token counts: tiktoken's own encoder over the BPE ranks bundled in bpe-openai.

tiktoken fetches its rank files over the network at run time. The bpe-openai wheel ships
`cl100k_base` and `o200k_base`; before use, each file's sha256 is checked against the hash tiktoken
itself pins, so the counts are tiktoken's, byte for byte.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib.util import find_spec
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

# The sha256 values tiktoken_ext.openai_public checks for these files.
_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


class TokenizerDataError(RuntimeError):
    """The bundled rank file is missing or does not match tiktoken's pinned hash."""


def encoding_name_for_model(model: str) -> str:
    """The encoding to count model's data with: the model's own (ftctl.models), `o200k_base` for
    the gpt-4o / gpt-4.1 / o-series families, `cl100k_base` for the rest. The retired GPT-3
    encodings are not bundled; a retired model's data is counted as its successor's would be."""
    from ftctl.models import encoding_name, model_facts

    name = encoding_name(model)
    facts = model_facts(model)
    if name not in _EXPECTED_SHA256 and facts is not None and facts.successor is not None:
        name = encoding_name(facts.successor)
    return name if name in _EXPECTED_SHA256 else "cl100k_base"


# The split pattern and special tokens of each encoding, as tiktoken_ext.openai_public defines
# them (only the rank files are fetched over the network there).
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPECS: dict[str, tuple[str, dict[str, int]]] = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
        r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    "o200k_base": (_O200K_PAT, {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}


def _rank_file(name: str) -> Path:
    """The bundled rank file, found without importing bpe_openai (whose import loads every
    encoding it ships, about a second of work)."""
    spec = find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerDataError("the bpe-openai package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"


_RANKS_BLOCK = 1 << 16  # bytes of the rank file parsed at a time


def rank_file(name: str) -> bytes:
    """The bundled rank file of an encoding, checked against tiktoken's sha256. Raises KeyError for
    an unknown name, TokenizerDataError for a missing or altered file."""
    import gzip
    import hashlib  # imported here: a process that is handed the file need not load OpenSSL

    expected = _EXPECTED_SHA256[name]
    try:
        raw = gzip.decompress(_rank_file(name).read_bytes())
    except OSError as exc:
        raise TokenizerDataError(f"cannot read the bundled {name} ranks: {exc}") from None
    if hashlib.sha256(raw).hexdigest() != expected:
        raise TokenizerDataError(f"bundled {name} ranks do not match tiktoken's sha256")
    return raw


def parse_ranks(raw: bytes) -> dict[bytes, int]:
    """The ranks of a rank file, "<base64 token> <rank>" per line, read a block of lines at a
    time: split whole, its 400,000 fields would take 20 MB more at the peak than the ranks."""
    ranks: dict[bytes, int] = {}
    a2b = binascii.a2b_base64
    start, size = 0, len(raw)
    while start < size:
        end = raw.find(b"\n", min(start + _RANKS_BLOCK, size - 1)) + 1 or size
        fields = raw[start:end].split()
        ranks.update(zip(map(a2b, fields[0::2]), map(int, fields[1::2]), strict=True))
        start = end
    return ranks


def _ranks(name: str) -> dict[bytes, int]:
    return parse_ranks(rank_file(name))


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """A tiktoken Encoding built offline. Raises KeyError for an unknown name."""
    import tiktoken

    pat_str, special_tokens = _SPECS[name]
    return tiktoken.Encoding(
        name=name,
        pat_str=pat_str,
        mergeable_ranks=_ranks(name),
        special_tokens=dict(special_tokens),
    )


class OrdinaryEncoding:
    """tiktoken's `Encoding.encode_ordinary`, on the same Rust encoder, without the rest.

    tiktoken.Encoding keeps the Python dict of ranks it was built from (26 MB for o200k_base)
    besides its Rust encoder's own copy; counting tokens needs only the Rust one, so the dict is
    dropped once the encoder is built."""

    def __init__(self, name: str, ranks: dict[bytes, int] | None = None) -> None:
        """The encoding called name, from ranks (parse_ranks of its checked rank_file) or else
        from the bundled file."""
        from tiktoken import _tiktoken  # type: ignore[attr-defined]  # the Rust core: no stubs

        pat_str, special_tokens = _SPECS[name]
        self.name = name
        self._core_bpe = _tiktoken.CoreBPE(
            ranks if ranks is not None else _ranks(name), dict(special_tokens), pat_str
        )
        self._encode: Callable[[str], list[int]] = self._core_bpe.encode_ordinary

    def encode_ordinary(self, text: str) -> list[int]:
        """The tokens of text, special tokens encoded as text (tiktoken's encode_ordinary)."""
        try:
            return self._encode(text)
        except UnicodeEncodeError:
            # lone surrogates: replaced as tiktoken replaces them
            return self._encode(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


_ordinary: dict[str, OrdinaryEncoding] = {}


def ordinary_encoding(name: str, ranks: dict[bytes, int] | None = None) -> OrdinaryEncoding:
    """The encoding prepare counts tokens with, built once per process (forked workers share it);
    ranks as for OrdinaryEncoding. Raises KeyError for an unknown name."""
    encoding = _ordinary.get(name)
    if encoding is None:
        encoding = _ordinary[name] = OrdinaryEncoding(name, ranks)
    return encoding


class WordCounter:
    """`len(encoding.encode_ordinary(text))`, exactly, with counts of words kept and reused.

    Both encodings split text into pieces with a pattern under which a piece holds whitespace
    only at its start, unless it starts with whitespace or ends in newlines after punctuation;
    and only pieces that start with whitespace look past their own characters (`$`, `(?!\\S)`).
    So in a text with no run of two spaces and no whitespace but single spaces before its last
    space, every space starts a piece, and `w0 w1 ... wn` is encoded as w0, " w1", ..., " wn"
    would be on their own: the count is the sum of theirs. Other texts are encoded whole.
    "No whitespace but single spaces" is tested with str.isprintable(): every character of
    Unicode's White_Space (what `\\s` matches) but the space is unprintable to Python, and any
    other unprintable character only sends the text down the exact path.
    """

    MAX_WORD = 32  # longer words are encoded, not kept
    MAX_WORDS = 1 << 16  # per table

    def __init__(self, encoding: tiktoken.Encoding | OrdinaryEncoding) -> None:
        exact: Callable[[str], list[int]] = encoding.encode_ordinary
        # the Rust encoder itself; the wrapper only reroutes text with lone surrogates (raising
        # UnicodeEncodeError here), and then it is called
        core = getattr(encoding, "_core_bpe", None)
        self._fast: Callable[[str], list[int]] = getattr(core, "encode_ordinary", exact)
        self._exact = exact
        self._first: dict[str, int] = {}  # w -> tokens of w, at the start of a text
        self._spaced: dict[str, int] = {}  # w -> tokens of " " + w
        self._digit_groups: dict[str, int] = {}  # "0" .. "999", "00", "007", ... -> tokens

    def __call__(self, text: str) -> int:
        cut = text.rfind(" ")
        try:
            if cut < 0 or "  " in text or not text[:cut].isprintable():
                return len(self._fast(text))  # no space, or whitespace other than single spaces
            words = text.split(" ")
            head = words[0]
            n = self._first.get(head)
            if n is None:
                # a leading number (an id, a count) is new in every text: its pieces are not
                n = (
                    self._digits(head)
                    if head.isdigit() and head.isascii()
                    else self._learn(self._first, head, head)
                )
            try:
                return n + sum(map(self._spaced.__getitem__, islice(words, 1, None)))
            except KeyError:
                return n + self._fill(words)
        except UnicodeEncodeError:
            return len(self._exact(text))

    def _digits(self, word: str) -> int:
        """Tokens of a run of ASCII digits: both patterns cut it into pieces of three digits
        from the left (`\\p{N}{1,3}`), each encoded on its own."""
        groups = self._digit_groups or self._learn_digit_groups()
        n = len(word)
        if n <= 3:
            return groups[word]
        if n <= 6:
            return groups[word[:3]] + groups[word[3:]]
        return sum(groups[word[i : i + 3]] for i in range(0, n, 3))

    def _learn_digit_groups(self) -> dict[str, int]:
        """Tokens of every string of one to three digits (1,110 of them, once per process)."""
        for width in (1, 2, 3):
            for value in range(10**width):
                group = str(value).zfill(width)
                self._digit_groups[group] = len(self._fast(group))
        return self._digit_groups

    def _learn(self, table: dict[str, int], word: str, piece: str) -> int:
        n = len(self._fast(piece))
        if len(word) <= self.MAX_WORD:
            if len(table) >= self.MAX_WORDS:
                table.clear()  # start over: the words that recur come back first
            table[word] = n
        return n

    def _fill(self, words: list[str]) -> int:
        """Tokens of " " + w for the words after the first, learning those not known."""
        spaced = self._spaced
        total = 0
        for word in islice(words, 1, None):
            n = spaced.get(word)
            total += n if n is not None else self._learn(spaced, word, " " + word)
        return total


@cache
def word_counter(name: str) -> WordCounter:
    """The WordCounter of an encoding, one per process (a forked worker gets its own copy)."""
    return WordCounter(ordinary_encoding(name))


def encoding_for_model(model: str) -> tiktoken.Encoding:
    return get_encoding(encoding_name_for_model(model))


def chat_tokens(messages: Iterable[Mapping[str, Any]], encoding: tiktoken.Encoding) -> int:
    """The prompt tokens of a chat request, the cookbook's way: 3 tokens of framing per message, 1
    more for a `name`, 3 to prime the reply; the role, name and text of the content are encoded.
    The mock reports it as chat completions `usage.prompt_tokens`. Training examples are counted
    by ftctl.prepare.records instead: there is no reply to prime, and the service bills 2 fewer
    per example."""
    total = 3
    for message in messages:
        total += 3
        for key in ("role", "content", "name"):
            value = message.get(key)
            if isinstance(value, str):
                total += len(encoding.encode_ordinary(value))
            elif key == "content" and isinstance(value, list):
                for part in value:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        total += len(encoding.encode_ordinary(part["text"]))
        if "name" in message:
            total += 1
    return total
