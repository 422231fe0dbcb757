"""How far a job has got, from its `metrics` events and status: the step, the losses, the time
left. Pure: `follow`'s live line and `watch`'s table read the same tracker.

Time left comes from the job's own `estimated_finish` when the service gives one, else from the
step rate measured between events' `created_at` stamps (never from when ftctl happened to see
them: re-attaching to a job delivers its whole history at once). Until a rate is known there is
no estimate, rather than a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Seconds between two observed steps before their rate is trusted for an estimate.
_MIN_RATE_SPAN = 2.0

# Statuses of a job that is not over yet (it still reads its files, and may still change).
ACTIVE_STATUSES = frozenset({"validating_files", "queued", "running", "paused"})

# How much longer than --poll-interval to wait in each status: often while running (the bar
# moves), seldom while queued or paused (nothing changes for minutes).
POLL_FACTORS: dict[str, float] = {
    "validating_files": 1.0,
    "queued": 3.0,
    "running": 0.4,
    "paused": 3.0,
}
MAX_POLL_SECONDS = 60.0


def adaptive_interval(status: str | None, base: float) -> float:
    """Seconds to wait before the next poll of a job in `status`, for a --poll-interval `base`."""
    return min(MAX_POLL_SECONDS, base * POLL_FACTORS.get(status or "", 1.0))


@dataclass
class JobProgress:
    """Feed it events (oldest first) and job objects; read the fields."""

    status: str = "-"
    step: int = 0
    total_steps: int | None = None
    losses: list[float] = field(default_factory=list)
    valid_loss: float | None = None
    estimated_finish: float | None = None
    _first: tuple[int, float] | None = None  # (step, created_at) of the first metrics event
    _last: tuple[int, float] | None = None

    def on_event(self, event: dict[str, Any]) -> bool:
        """True when the event was a metrics event (and so changed the figures)."""
        data = event.get("data") or {}
        if event.get("type") != "metrics" or not isinstance(data, dict):
            return False
        step, total = data.get("step"), data.get("total_steps")
        if isinstance(step, int):
            self.step = step
            created = event.get("created_at")
            if isinstance(created, int | float):
                point = (step, float(created))
                self._first = self._first or point
                self._last = point
        if isinstance(total, int) and total > 0:
            self.total_steps = total
        loss = data.get("train_loss")
        if isinstance(loss, int | float):
            self.losses.append(float(loss))
        valid = data.get("valid_loss")
        if isinstance(valid, int | float):
            self.valid_loss = float(valid)
        return True

    def on_job(self, job: dict[str, Any]) -> None:
        self.status = str(job.get("status", "-"))
        finish = job.get("estimated_finish")
        self.estimated_finish = float(finish) if isinstance(finish, int | float) else None

    @property
    def loss(self) -> float | None:
        return self.losses[-1] if self.losses else None

    @property
    def finalising(self) -> bool:
        """Every step done but the job not yet over: the service is saving the model."""
        return (
            self.status == "running"
            and self.total_steps is not None
            and self.step >= self.total_steps
        )

    @property
    def phase(self) -> str:
        return "finalising" if self.finalising else self.status

    def seconds_per_step(self) -> float | None:
        if self._first is None or self._last is None:
            return None
        steps = self._last[0] - self._first[0]
        span = self._last[1] - self._first[1]
        if steps <= 0 or span < _MIN_RATE_SPAN:
            return None
        return span / steps

    def seconds_left(self, now: float) -> float | None:
        """None while unknown; 0 once training is done."""
        if self.status != "running":
            return None
        if self.finalising:
            return 0.0
        if self.estimated_finish is not None:
            return max(0.0, self.estimated_finish - now)
        rate = self.seconds_per_step()
        if rate is None or self.total_steps is None or self._last is None:
            return None
        left_at_last = (self.total_steps - self._last[0]) * rate
        return max(0.0, left_at_last - max(0.0, now - self._last[1]))


def clock(seconds: float | None) -> str:
    """`1:02:03`, `4:05`, or `-` when unknown."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
