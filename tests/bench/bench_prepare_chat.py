"""Chat data: `ftctl prepare` against the cookbook's method as a plain one-process script."""

from __future__ import annotations

import gzip
import hashlib
import json
from importlib import resources
from pathlib import Path

from tests.bench import _harness as h
from tests.bench.data import write_chat

DESCRIPTION = (
    "chat data, 40,000 examples: ftctl prepare vs the cookbook's script with tiktoken, best of 3 "
    "each (targets: >= 1.5x faster, <= 1/2 peak memory, same tokens less the 2 per example not "
    "billed)"
)
N_EXAMPLES = 40_000
ROUNDS = 3
MODEL = "gpt-4o-mini-2024-07-18"
ENCODING = "o200k_base"
_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


def tiktoken_cache() -> Path:
    """A TIKTOKEN_CACHE_DIR holding the rank files tiktoken would download (from the copies
    bpe-openai bundles, whose sha256 ftctl.tokens checks), so plain tiktoken runs offline."""
    from ftctl.tokens import _EXPECTED_SHA256

    cache = h.OUT / "tiktoken-cache"
    cache.mkdir(parents=True, exist_ok=True)
    for name, url in _URLS.items():
        target = cache / hashlib.sha1(url.encode()).hexdigest()
        if not target.exists():
            with resources.files("bpe_openai.data").joinpath(f"{name}.tiktoken.gz").open("rb") as f:
                raw = gzip.decompress(f.read())
            assert hashlib.sha256(raw).hexdigest() == _EXPECTED_SHA256[name]
            target.write_bytes(raw)
    return cache


def run() -> bool:
    data = h.data_dir("prepare") / f"chat-{N_EXAMPLES}-v1.jsonl"
    if not data.exists():
        print(f"  generating {data.name} ...", flush=True)
        tmp = data.with_suffix(".tmp")
        write_chat(tmp, N_EXAMPLES)
        tmp.replace(data)
    print(f"  data: {data} ({data.stat().st_size / 1e6:.0f} MB)", flush=True)
    cache = tiktoken_cache()
    script = Path(__file__).with_name("cookbook_chat.py")
    bases: list[h.Run] = []
    ourses: list[h.Run] = []
    for _round in range(ROUNDS):  # interleaved, so a busy spell slows both peers alike
        bases.append(
            h.measure(
                "cookbook script (tiktoken, 1 process)",
                [h.PYTHON, str(script), str(data), ENCODING],
                env={"TIKTOKEN_CACHE_DIR": str(cache)},
            )
        )
        ourses.append(
            h.measure(
                "ftctl prepare --json",
                [h.PYTHON, "-m", "ftctl", "prepare", "--json", "-m", MODEL, "-f", str(data)],
                cwd=h.ROOT,
            )
        )
    base, ours = h.best_of(bases), h.best_of(ourses)
    print(h.table([base, ours]))
    if base.returncode or ours.returncode:
        print(base.stderr[-2000:], ours.stderr[-2000:])
        return False
    b, o = json.loads(base.stdout), json.loads(ours.stdout)
    speed = base.wall_s / ours.wall_s
    rss = ours.max_rss_mb / base.max_rss_mb
    pss = ours.tree_pss_mb / base.tree_pss_mb
    ok = h.check("speed", speed >= 1.5, f"{speed:.2f}x faster")
    ok &= h.check("memory", rss <= 0.5, f"max RSS {rss:.2f}x, tree PSS {pss:.2f}x of the script's")
    # ftctl counts billed training tokens: the cookbook's count less the 2 tokens per example of
    # reply priming that the service does not bill (ftctl.prepare.records, EXAMPLE_TOKENS).
    ok &= h.check(
        "tokens",
        (b["examples"], b["total_tokens"] - 2 * b["examples"], b["assistant_tokens"])
        == (o["examples"], o["tokens"]["total"], o["tokens"]["assistant"]),
        f"{o['tokens']['total']:,} total, {o['tokens']['assistant']:,} assistant "
        f"(script: {b['total_tokens']:,}, {b['assistant_tokens']:,})",
    )
    return ok
