"""Start-up: every `ftctl ... --help` and usage error against the legacy `openai` CLI's start-up."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.bench import _harness as h
from tests.support.cli import every_command

DESCRIPTION = (
    "start-up: every `ftctl <command> --help` and common usage errors vs openai==0.28.1's "
    "`openai --help` (target: each <= 0.2x the legacy start-up, best of 15)"
)
LEGACY = ["openai==0.28.1", "pandas", "openpyxl"]
RUNS = 15
TARGET_RATIO = 0.2
USAGE_ERRORS = (["get"], ["follow"], ["create"], ["prepare"], ["list", "--limit", "0"])


def _best_of(argv: list[str], env: dict[str, str]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False, timeout=60)
        best = min(best, time.perf_counter() - start)
    return best


def run() -> bool:
    legacy_bin = h.venv("openai-0.28.1", LEGACY)
    ftctl = str(Path(h.PYTHON).parent / "ftctl")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENAI_API_KEY": "sk-bench"}
    legacy = _best_of([str(legacy_bin / "openai"), "--help"], env)
    print(f"  legacy `openai --help` (0.28.1): {legacy * 1000:.0f} ms", flush=True)
    rows: list[tuple[str, float]] = []
    for command in every_command():
        rows.append(
            (f"ftctl {' '.join([*command, '--help'])}", _best_of([ftctl, *command, "--help"], env))
        )
    for command in USAGE_ERRORS:
        rows.append((f"ftctl {' '.join(command)} (usage error)", _best_of([ftctl, *command], env)))
    width = max(len(name) for name, _ in rows)
    ok = True
    for name, seconds in rows:
        ratio = seconds / legacy
        ok = ok and ratio <= TARGET_RATIO
        mark = "" if ratio <= TARGET_RATIO else "  MISSED"
        print(f"  {name:<{width}}  {seconds * 1000:6.0f} ms  {ratio:4.2f}x{mark}", flush=True)
    worst = max(seconds for _, seconds in rows) / legacy
    return h.check(
        "start-up", ok, f"worst {worst:.2f}x the legacy start-up (target <= {TARGET_RATIO}x)"
    )
