"""The live training view `follow` shows on a terminal: a progress bar at the foot of the event
log with the step, the latest training loss, a loss sparkline and the time left.

It only renders; what it shows comes from the job's `metrics` events and status. It appears only
when stdout and stderr are both the terminal; while it is up, lines written to stdout are printed
above it, so the log reads as it does in a pipe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ftctl.cli import _output

if TYPE_CHECKING:
    from types import TracebackType

    from rich.progress import Progress, TaskID

_SPARK = "▁▂▃▄▅▆▇█"
_SPARK_WIDTH = 24


def sparkline(values: list[float], width: int = _SPARK_WIDTH) -> str:
    """The last `width` values as block characters, scaled between their min and max."""
    tail = values[-width:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = high - low
    if span <= 0:
        return _SPARK[0] * len(tail)
    return "".join(_SPARK[round((v - low) / span * (len(_SPARK) - 1))] for v in tail)


def wanted(as_json: bool) -> bool:
    """Only for a person watching: both streams on a terminal, and not JSON."""
    return not as_json and _output.stdout_is_tty() and _output.stderr_is_tty()


class TrainingView:
    """Context manager; feed it events and job objects as `follow` sees them."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self.losses: list[float] = []
        self.step = 0
        self.total_steps: int | None = None
        self.status = "-"

    def __enter__(self) -> TrainingView:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.fields[status]:<16}"),
            BarColumn(bar_width=30),
            TextColumn("step {task.completed:.0f}/{task.fields[total_label]}"),
            TextColumn("loss {task.fields[loss]}  {task.fields[spark]}"),
            TimeRemainingColumn(),
            console=_output.err_console(),
            transient=True,
            redirect_stdout=True,
            redirect_stderr=False,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task(
            "training", total=None, status=self.status, total_label="?", loss="-", spark=""
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)

    def on_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if event.get("type") != "metrics" or not isinstance(data, dict):
            return
        step, total = data.get("step"), data.get("total_steps")
        if isinstance(step, int):
            self.step = step
        if isinstance(total, int) and total > 0:
            self.total_steps = total
        loss = data.get("train_loss")
        if isinstance(loss, int | float):
            self.losses.append(float(loss))
        self._refresh()

    def on_job(self, job: dict[str, Any]) -> None:
        self.status = str(job.get("status", "-"))
        self._refresh()

    def _refresh(self) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.update(
            self._task,
            completed=self.step,
            total=self.total_steps,
            status=self.status,
            total_label=self.total_steps or "?",
            loss=f"{self.losses[-1]:.4f}" if self.losses else "-",
            spark=sparkline(self.losses),
        )
        self._progress.refresh()
