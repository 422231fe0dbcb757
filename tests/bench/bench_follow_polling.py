"""API calls per job-minute while following, adaptive polling against a fixed interval.

The book's job runs on the mock under a hand-driven clock, stretched (speed 0.02) to a small real
job's shape: 100 s validating, 100 s queued, 90 steps over about 11 minutes, 100 s finalising.
`JobsService.follow` waits by advancing that clock, so the run takes a second while the job
takes about 16 simulated minutes. Side by side, one run each:

- fixed: `--poll-interval 5` throughout (ftctl before this change);
- adaptive: the same `--poll-interval 5`, as `ftctl follow` now waits (2 s while running,
  15 s while queued or paused, 5 s otherwise).

Reported: calls per job-minute in each status and overall, the seconds between two refreshes
of the step while running (how smoothly the bar moves), and, from the measured per-status rates,
the calls for a job that waits 30 minutes in the queue before 10 minutes of training (queues are
often that long on the real service; the mock's is short). Targets: the bar refreshes at least
twice as often while running, and following stays within one call per second per job.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from ftctl.service.jobs import JobsService, StatusItem
from ftctl.service.progress import adaptive_interval
from tests.support.mock_server import FakeClock, running_mock

DESCRIPTION = "follow: API calls per job-minute, adaptive polling vs a fixed 5 s interval"
ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "fixtures" / "book" / "train_data_prepared.jsonl"
BASE = 5.0
SPEED = 0.02


def _follow(adaptive: bool) -> dict[str, Any]:
    import openai

    clock = FakeClock()
    calls: list[str] = []
    status = ["validating_files"]
    seconds: dict[str, float] = defaultdict(float)
    per_status: dict[str, int] = defaultdict(int)
    with running_mock(speed=SPEED, seed=5, clock=clock) as url:
        http = httpx.Client(event_hooks={"request": [lambda r: calls.append(status[0])]})
        client = openai.OpenAI(
            base_url=url,
            api_key="sk-bench",
            max_retries=0,
            http_client=http,  # type: ignore[arg-type]
        )
        with BOOK.open("rb") as handle:
            upload = client.files.create(file=(BOOK.name, handle), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model="davinci-002", training_file=upload.id)
        calls.clear()

        def sleep(delay: float) -> None:
            seconds[status[0]] += delay
            clock.advance(delay)

        def interval(job: dict[str, Any]) -> float:
            status[0] = str(job.get("status"))
            return adaptive_interval(status[0], BASE) if adaptive else BASE

        service = JobsService(client, sleep=sleep)
        for item in service.follow(job.id, poll_interval=BASE, interval=interval):
            if isinstance(item, StatusItem):
                status[0] = str(item.job.get("status"))
    for name in calls:
        per_status[name] += 1
    total_minutes = sum(seconds.values()) / 60
    return {
        "calls": len(calls),
        "minutes": total_minutes,
        "rate": len(calls) / total_minutes,
        "by_status": {
            name: per_status[name] / (seconds[name] / 60) for name in seconds if seconds[name]
        },
        "refresh_s": (adaptive_interval("running", BASE) if adaptive else BASE),
    }


def run() -> bool:
    fixed, adaptive = _follow(adaptive=False), _follow(adaptive=True)
    print(f"{'':18}{'fixed 5 s':>12}{'adaptive':>12}")
    for name in ("validating_files", "queued", "running"):
        a, b = fixed["by_status"].get(name, 0.0), adaptive["by_status"].get(name, 0.0)
        print(f"{name:<18}{a:>9.1f}/min{b:>9.1f}/min")
    print(f"{'whole job':<18}{fixed['rate']:>9.1f}/min{adaptive['rate']:>9.1f}/min")
    print(f"{'calls':<18}{fixed['calls']:>12}{adaptive['calls']:>12}")
    print(f"{'job minutes':<18}{fixed['minutes']:>12.1f}{adaptive['minutes']:>12.1f}")
    print(f"{'bar refresh':<18}{fixed['refresh_s']:>11.1f}s{adaptive['refresh_s']:>11.1f}s")
    ratio = adaptive["calls"] / fixed["calls"]
    smoother = fixed["refresh_s"] / adaptive["refresh_s"]
    print(f"adaptive/fixed: {ratio:.2f}x the calls, the bar refreshed {smoother:.1f}x as often")

    def queued_job(rates: dict[str, Any]) -> float:
        by = rates["by_status"]
        return 30 * by.get("queued", 0.0) + 10 * by.get("running", 0.0)

    print(
        "30 min queued + 10 min running (projected): "
        f"fixed {queued_job(fixed):.0f} calls, adaptive {queued_job(adaptive):.0f} calls"
    )
    return smoother >= 2.0 and max(adaptive["by_status"].values()) <= 60.0
