"""`make bench`: run every bench module (tests/bench/bench_*.py), or those named.

    python -m tests.bench                 # all
    python -m tests.bench prepare_chat    # by name (the part after `bench_`)
    python -m tests.bench --list

A bench module defines `DESCRIPTION` and `run() -> bool` (True when its targets are met); add one
and it is picked up. Exit status: 0 if every bench met its targets, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def discover() -> dict[str, str]:
    here = Path(__file__).resolve().parent
    return {
        info.name.removeprefix("bench_"): f"tests.bench.{info.name}"
        for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda i: i.name)
        if info.name.startswith("bench_")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benches to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    parser.add_argument("--one", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        return 0 if bool(importlib.import_module(discover()[args.one]).run()) else 1
    benches = discover()
    if args.list:
        for name, module in benches.items():
            print(f"{name}: {importlib.import_module(module).DESCRIPTION}")
        return 0
    unknown = [n for n in args.names if n not in benches]
    if unknown:
        parser.error(f"unknown bench(es): {', '.join(unknown)}; known: {', '.join(benches)}")
    results: dict[str, bool] = {}
    for name in args.names or list(benches):
        module = importlib.import_module(benches[name])
        print(f"\n=== {name}: {module.DESCRIPTION}", flush=True)
        start = time.perf_counter()
        # Each bench in a fresh process: a child's max RSS counts the memory of the process it
        # was forked from, so a bench that grew this one (the mock's 2,000 jobs) would inflate
        # every later bench's memory figures.
        one = subprocess.run([sys.executable, "-m", "tests.bench", "--one", name], check=False)
        results[name] = one.returncode == 0
        print(
            f"=== {name}: {'met' if results[name] else 'MISSED'} "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    print("\nSummary: " + ", ".join(f"{n} {'ok' if ok else 'MISSED'}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
