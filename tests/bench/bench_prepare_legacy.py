"""Prompt/completion data: `ftctl prepare -q` against openai==0.28.1's `prepare_data -q`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.bench import _harness as h
from tests.bench.bench_prepare_chat import tiktoken_cache
from tests.bench.data import write_prompt_completion

DESCRIPTION = (
    "prompt/completion data, 300,000 rows: ftctl prepare -q vs openai==0.28.1 "
    "`tools fine_tunes.prepare_data -q`, best of 3 each (targets: >= 5x faster with exact tokens, "
    "<= 1/2 peak memory, same rows out)"
)
N_ROWS = 300_000
LEGACY = ["openai==0.28.1", "pandas", "openpyxl"]
ROUNDS = 3


def run() -> bool:
    data = h.data_dir("prepare") / f"pc-{N_ROWS}-v1.jsonl"
    if not data.exists():
        print(f"  generating {data.name} ...", flush=True)
        tmp = data.with_suffix(".tmp")
        write_prompt_completion(tmp, N_ROWS)
        tmp.replace(data)
    print(f"  data: {data} ({data.stat().st_size / 1e6:.0f} MB)", flush=True)
    legacy_bin = h.venv("openai-0.28.1", LEGACY)
    dirs = {name: h.fresh_dir(f"prepare-legacy/{name}") for name in ("legacy", "ftctl", "tokens")}
    for d in dirs.values():
        shutil.copy(data, d / "train.jsonl")
    commands = {
        "legacy": (
            "openai 0.28.1 prepare_data -q",
            [str(legacy_bin / "openai"), "tools", "fine_tunes.prepare_data", "-q"],
        ),
        "ftctl": (
            "ftctl prepare -q --no-tokens (same work)",
            [h.PYTHON, "-m", "ftctl", "prepare", "-q", "--no-tokens", "--force"],
        ),
        "tokens": (
            "ftctl prepare -q (+ exact tokens and cost)",
            [h.PYTHON, "-m", "ftctl", "prepare", "-q", "--force"],
        ),
    }
    runs: dict[str, list[h.Run]] = {name: [] for name in commands}
    for _round in range(ROUNDS):  # interleaved, so a busy spell slows every peer alike
        for name, (label, argv) in commands.items():
            prepared = dirs[name] / "train_prepared.jsonl"
            if name == "legacy" and prepared.exists():
                prepared.unlink()  # the legacy tool asks before overwriting
            runs[name].append(
                h.measure(label, [*argv, "-f", "train.jsonl"], cwd=dirs[name]),
            )
    old, ours, full = (h.best_of(runs[name]) for name in commands)
    print(h.table([old, ours, full]))
    if old.returncode or ours.returncode or full.returncode:
        print(old.stderr[-2000:], ours.stderr[-2000:], full.stderr[-2000:])
        return False
    outputs = {name: (d / "train_prepared.jsonl") for name, d in dirs.items()}
    same = all(p.exists() for p in outputs.values()) and (
        outputs["legacy"].read_bytes()
        == outputs["ftctl"].read_bytes()
        == outputs["tokens"].read_bytes()
    )
    rows = sum(1 for _ in outputs["ftctl"].open("rb")) if outputs["ftctl"].exists() else 0
    # the targets apply to `ftctl prepare -q` as users run it: token counting on (the default)
    speed = old.wall_s / full.wall_s
    speed_same = old.wall_s / ours.wall_s
    rss = max(ours.max_rss_mb, full.max_rss_mb) / old.max_rss_mb
    pss = max(ours.tree_pss_mb, full.tree_pss_mb) / old.tree_pss_mb
    ok = h.check(
        "speed",
        speed >= 5.0,
        f"{speed:.2f}x faster with token counting (the default), {speed_same:.2f}x without",
    )
    ok &= h.check(
        "memory", rss <= 0.5, f"max RSS {rss:.2f}x, tree PSS {pss:.2f}x of legacy's (worst of both)"
    )
    ok &= h.check("rows out", same, f"{rows:,} rows, byte-identical to the legacy tool's file")
    found = re.search(r"Dataset has ~([\d,]+) tokens \(cl100k_base", full.stdout)
    counted = int(found.group(1).replace(",", "")) if found else None
    expected = reference_tokens(outputs["tokens"]) if outputs["tokens"].exists() else None
    ok &= h.check(
        "tokens",
        counted is not None and counted == expected,
        f"{counted or 0:,} counted, {expected or 0:,} by plain tiktoken over the file written",
    )
    return ok


def reference_tokens(prepared: Path) -> int:
    """Prompt + completion tokens of every row of prepared, by tiktoken itself (its own
    cl100k_base, loaded from the rank file it would download), one string at a time."""
    import json
    import os

    import tiktoken

    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(tiktoken_cache())
    try:
        encode = tiktoken.get_encoding("cl100k_base").encode_ordinary
    finally:
        if before is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = before
    total = 0
    with prepared.open("rb") as fh:
        for line in fh:
            row = json.loads(line)
            total += len(encode(row["prompt"])) + len(encode(row["completion"]))
    return total
