"""The long fault soak: `ftctl create` cycles against the mock run with `--fail-rate 0.2
--drop-rate 0.1` (the short one runs in `make test`)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.support.soak import soak

DESCRIPTION = (
    "fault soak: 60 create+follow cycles against the mock with --fail-rate 0.2 --drop-rate 0.1, "
    "then through a fault proxy (target: 0 duplicate jobs, 0 duplicate files, no event printed "
    "twice)"
)
CYCLES = 60


def run() -> bool:
    ok = True
    for injector in ("mock", "proxy"):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="ftctl-soak-") as workdir:
            result = soak(
                Path(workdir),
                cycles=CYCLES,
                fail_rate=0.2,
                drop_rate=0.1,
                seed=2026,
                injector=injector,
            )
        where = "the mock's own faults" if injector == "mock" else "a fault proxy before the mock"
        print(f"  {where}: {result.summary()}")
        print(f"  {time.perf_counter() - start:.1f} s for {CYCLES} cycles")
        for problem in result.problems:
            print(f"  problem: {problem}")
        ok = ok and result.ok
    return ok
