"""Deterministic synthetic training data for the benches."""

from __future__ import annotations

import json
import random
from pathlib import Path

_WORDS = (  # noqa: SIM905
    "the of and to in is was for on that with as by at from his her an were are which this be "
    "or has had not but what all when we there can been one more if no out so said would about "
    "time river mountain signal engine harbor lantern quartz falcon meadow violet cobalt summit "
    "orchid willow ember maple stone cloud apple model token dataset training example assistant "
    "user question answer summary chapter book review journey courage mystery discovery café "
    "naïve résumé 東京 data/science 2024 3.14 e-mail x86_64 O'Brien"
).split()


def _text(rng: random.Random, lo: int, hi: int) -> str:
    words = rng.choices(_WORDS, k=rng.randint(lo, hi))
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice((".", "?", "!", "."))


def write_chat(path: Path, n: int, seed: int = 1) -> None:
    """Multi-turn conversations of about 600 tokens on average."""
    rng = random.Random(seed)
    system = "You are a helpful, concise assistant. " + _text(rng, 30, 30)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            messages = [{"role": "system", "content": system}]
            for _turn in range(rng.randint(1, 3)):
                messages.append({"role": "user", "content": f"#{i} " + _text(rng, 10, 80)})
                messages.append({"role": "assistant", "content": _text(rng, 40, 240)})
            fh.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")


def write_prompt_completion(path: Path, n: int, seed: int = 2) -> None:
    """Book-like conditional-generation rows: a common prompt prefix, no separator, no common
    ending, completions without a leading space, and about 1% duplicates."""
    rng = random.Random(seed)
    previous: list[str] = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if previous and rng.random() < 0.01:
                fh.write(rng.choice(previous))
                continue
            row = {
                "prompt": f"Book Summary: #{i} " + _text(rng, 2, 8),
                "completion": _text(rng, 8, 24),
            }
            line = json.dumps(row, ensure_ascii=False) + "\n"
            if len(previous) < 1000:
                previous.append(line)
            fh.write(line)
