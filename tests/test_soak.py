"""A short fault soak (the long one is `make bench`): creates against a mock that fails 20% of
requests before acting and drops 10% after it acted, with the mock's own faults and with the
loopback proxy in front of a clean mock."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from tests.support.soak import soak


@pytest.mark.parametrize("injector", ["mock", "proxy"])
def test_short_fault_soak_makes_one_job_and_one_file_per_create(
    tmp_path: Path, injector: Literal["mock", "proxy"]
) -> None:
    result = soak(tmp_path, cycles=6, fail_rate=0.2, drop_rate=0.1, seed=5, injector=injector)
    print(result.summary())
    assert result.ok, result.summary() + "\n" + "\n".join(result.problems)
    assert sum(result.faults.values()) > 0
    assert result.exit_codes[0] >= 1
