"""The fault soak: N `ftctl create` (upload, create, follow) cycles against a mock that fails
and drops requests, then the mock's own state is counted: one job and one file per create,
whatever was failed or dropped on the way, and no event printed twice.

Faults come from the mock itself (`ftctl mock serve --fail-rate R --drop-rate R --seed N`) or
from the loopback proxy in tests/support/fault_proxy.py in front of a clean mock (`injector`).
Used by tests/test_soak.py (short, in `make test`) and tests/bench/bench_soak.py (long). The
SDK's retry backoff and ftctl's own waits are shortened to milliseconds so a soak measures
behaviour, not sleeping.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from unittest import mock

from typer.testing import CliRunner

from tests.support.fault_proxy import fault_proxy
from tests.support.mock_server import running_mock

MODEL = "gpt-4o-mini-2024-07-18"


@dataclass
class SoakResult:
    cycles: int
    exit_codes: Counter[int] = field(default_factory=Counter)
    duplicate_jobs: int = 0  # creates that left more than one job
    duplicate_files: int = 0  # creates that left more than one copy of their file
    missing_jobs: int = 0  # creates that exited 0 without a job on the service
    events_printed_twice: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.duplicate_jobs
            or self.duplicate_files
            or self.missing_jobs
            or self.events_printed_twice
            or self.problems
        )

    def summary(self) -> str:
        codes = ", ".join(f"exit {c}: {n}" for c, n in sorted(self.exit_codes.items()))
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()) if "passed" not in k)
        return (
            f"{self.cycles} cycles ({codes}); duplicate jobs {self.duplicate_jobs}, duplicate "
            f"files {self.duplicate_files}, exit 0 without a job {self.missing_jobs}, events "
            f"printed twice {self.events_printed_twice}; faults injected: {faults}"
        )


def _training_data(cycle: int) -> str:
    lines = []
    for i in range(10):
        messages = [
            {"role": "user", "content": f"Cycle {cycle}: what is {i} plus {i}?"},
            {"role": "assistant", "content": f"{2 * i}, obviously."},
        ]
        lines.append(json.dumps({"messages": messages}) + "\n")
    return "".join(lines)


class _FaultCounter(logging.Handler):
    """Counts the mock's injected faults from its request log ("dropped", 429/500/503)."""

    def __init__(self, stats: Counter[str]) -> None:
        super().__init__(logging.INFO)
        self.stats = stats

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) >= 4:
            method, status = args[1], args[3]
            kind = (
                "dropped" if status == "dropped" else "failed" if status in (429, 500, 503) else ""
            )
            if kind:
                self.stats[f"{kind} {method}"] += 1


def soak(
    workdir: Path,
    *,
    cycles: int,
    fail_rate: float = 0.2,
    drop_rate: float = 0.1,
    seed: int = 1,
    injector: Literal["mock", "proxy"] = "mock",
) -> SoakResult:
    from ftctl.cli.app import app

    result = SoakResult(cycles)
    apps: list[Any] = []
    stats: Counter[str] = Counter()
    with ExitStack() as stack:
        if injector == "mock":
            from ftctl.mock.http import Faults

            faults = Faults(fail_rate=fail_rate, drop_rate=drop_rate, seed=seed)
            url = stack.enter_context(
                running_mock(speed=20_000, seed=seed, app_out=apps, faults=faults)
            )
            mock_log = logging.getLogger("ftctl.mock")
            counter = _FaultCounter(stats)
            mock_log.addHandler(counter)
            stack.callback(mock_log.removeHandler, counter)
            stack.enter_context(mock.patch.object(mock_log, "level", logging.INFO))
        else:
            upstream = stack.enter_context(running_mock(speed=20_000, seed=seed, app_out=apps))
            url, stats = stack.enter_context(
                fault_proxy(upstream, fail_rate=fail_rate, drop_rate=drop_rate, seed=seed)
            )
        # The mock's 429s ask for 1 s; the soak is about outcomes, not waiting.
        stack.enter_context(mock.patch("ftctl.client.MAX_WAIT", 0.001))
        stack.enter_context(mock.patch("openai._base_client.INITIAL_RETRY_DELAY", 0.001))
        stack.enter_context(mock.patch("openai._base_client.MAX_RETRY_DELAY", 0.01))
        stack.enter_context(mock.patch("ftctl.service.jobs.wait_seconds", lambda s: None))
        stack.enter_context(mock.patch("ftctl.service.files.wait_seconds", lambda s: None))
        env = {
            "OPENAI_API_KEY": "sk-soak-0123456789",
            "OPENAI_BASE_URL": url,
            "FTCTL_POLL_INTERVAL": "0",
            "XDG_STATE_HOME": str(workdir / "state"),
            "NO_COLOR": "1",
        }
        stack.enter_context(mock.patch.dict(os.environ, env))
        store = apps[0].state.store
        for cycle in range(cycles):
            name = f"soak-{cycle:04d}.jsonl"
            path = workdir / name
            path.write_text(_training_data(cycle), encoding="utf-8")
            run = CliRunner().invoke(
                app,
                ["--max-retries", "4", "create", "-t", str(path), "-m", MODEL, "--yes", "--json"],
                catch_exceptions=False,
            )
            result.exit_codes[run.exit_code] += 1
            files = [f for f in store.files.values() if f.filename == name]
            file_ids = {f.id for f in files}
            jobs = [j for j in store.jobs.values() if j.training_file in file_ids]
            if len(files) > 1:
                result.duplicate_files += 1
            if len(jobs) > 1:
                result.duplicate_jobs += 1
            if run.exit_code == 0 and len(jobs) != 1:
                result.missing_jobs += 1
            events = [json.loads(line) for line in run.stdout.splitlines()[1:] if line.strip()]
            ids = [e.get("id") for e in events]
            result.events_printed_twice += len(ids) - len(set(ids))
            if run.exit_code not in (0, 1, 3):
                result.problems.append(f"cycle {cycle}: exit {run.exit_code}: {run.stderr}")
            elif run.exit_code != 0 and "next:" not in run.stderr:
                result.problems.append(f"cycle {cycle}: exit {run.exit_code} without a next step")
        result.faults = Counter(stats)
    return result
