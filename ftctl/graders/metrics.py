"""The text_similarity metrics, each a score in [0, 1] for (input, reference).

Libraries, chosen because they are the reference implementations people compare against:
- `fuzzy_match`: rapidfuzz's `fuzz.ratio` (normalised Indel similarity), divided by 100.
- `bleu`: nltk's `sentence_bleu` at the sentence's effective order (n-gram orders up to 4, no
  more than the shorter text has words), so a short exact match scores 1.0 rather than 0, and
  nltk's smoothing method 1 for orders with no match.
- `gleu`: nltk's `sentence_gleu` (Google-BLEU, orders 1 to 4).
- `meteor`: nltk's `meteor_score`, with exact and Porter-stem matching. nltk's synonym stage needs
  the WordNet corpus, a download this offline mock cannot make, so it is given an empty thesaurus:
  synonyms do not match, everything else is METEOR as nltk computes it.
- `rouge_1` .. `rouge_5`, `rouge_l`: Google's `rouge-score` F-measure (tokeniser as shipped, no
  stemming).
- `cosine`: the service embeds both texts with an embedding model; the mock has none and uses the
  cosine of the two texts' word-count vectors instead.

Imports are deferred to the first use of each metric (rouge-score pulls in numpy).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

METRICS = (
    "cosine",
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)

_WORD_RE = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore), the tokeniser of bleu/gleu/meteor."""
    return _WORD_RE.findall(text.lower())


def fuzzy_match(text: str, reference: str) -> float:
    from rapidfuzz import fuzz

    return float(fuzz.ratio(text, reference)) / 100.0


def bleu(text: str, reference: str) -> float:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    hypothesis, expected = words(text), words(reference)
    order = min(4, len(hypothesis), len(expected))
    if order == 0:
        return 1.0 if hypothesis == expected else 0.0
    weights = tuple(1.0 / order for _ in range(order))
    smoothing = SmoothingFunction().method1
    return float(
        sentence_bleu([expected], hypothesis, weights=weights, smoothing_function=smoothing)
    )


def gleu(text: str, reference: str) -> float:
    from nltk.translate.gleu_score import sentence_gleu

    hypothesis, expected = words(text), words(reference)
    if not hypothesis or not expected:
        return 1.0 if hypothesis == expected else 0.0
    return float(sentence_gleu([expected], hypothesis))


class _NoSynonyms:
    """The part of nltk's WordNet reader that meteor_score uses, knowing no synonyms."""

    def synsets(self, word: str, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def meteor(text: str, reference: str) -> float:
    from nltk.translate.meteor_score import meteor_score

    hypothesis, expected = words(text), words(reference)
    if not hypothesis or not expected:
        return 1.0 if hypothesis == expected else 0.0
    return float(meteor_score([expected], hypothesis, wordnet=_NoSynonyms()))


@cache
def _rouge_scorer(kind: str) -> Any:
    from rouge_score import rouge_scorer, tokenizers

    # An explicit tokenizer (the default one) keeps RougeScorer from logging that it chose it.
    tokenizer = tokenizers.DefaultTokenizer(use_stemmer=False)
    return rouge_scorer.RougeScorer([kind], use_stemmer=False, tokenizer=tokenizer)


def rouge(kind: str) -> Callable[[str, str], float]:
    """The F-measure of one rouge-score type (`rouge1`..`rouge5`, `rougeL`)."""

    def score(text: str, reference: str) -> float:
        result = _rouge_scorer(kind).score(reference, text)[kind]
        return float(result.fmeasure)

    return score


def cosine(text: str, reference: str) -> float:
    left, right = Counter(words(text)), Counter(words(reference))
    if not left or not right:
        return 1.0 if left == right else 0.0
    dot = sum(count * right[word] for word, count in left.items())
    norm = math.sqrt(sum(c * c for c in left.values())) * math.sqrt(
        sum(c * c for c in right.values())
    )
    return dot / norm


SCORERS: dict[str, Callable[[str, str], float]] = {
    "cosine": cosine,
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    **{f"rouge_{n}": rouge(f"rouge{n}") for n in range(1, 6)},
    "rouge_l": rouge("rougeL"),
}


def similarity(metric: str, text: str, reference: str) -> float:
    """The metric's score, clamped to [0, 1]. KeyError for a metric not in METRICS."""
    return min(1.0, max(0.0, SCORERS[metric](text, reference)))
