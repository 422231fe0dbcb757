"""A short fault soak (the long one is `make bench`): creates through a proxy that fails 20% of
requests before the mock sees them and drops 10% after the mock acted."""

from __future__ import annotations

from pathlib import Path

from tests.support.soak import soak


def test_short_fault_soak_makes_one_job_and_one_file_per_create(tmp_path: Path) -> None:
    result = soak(tmp_path, cycles=6, fail_rate=0.2, drop_rate=0.1, seed=5)
    print(result.summary())
    assert result.ok, result.summary() + "\n" + "\n".join(result.problems)
    assert sum(result.faults.values()) > 0
    assert result.exit_codes[0] >= 1
