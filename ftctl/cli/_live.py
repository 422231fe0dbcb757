"""The live training line `follow` shows on a terminal, at the foot of the event log:

    running     ██████████░░░░░░░░░░  step 12/30  loss 0.8123  ▇▆▅▄▃▂  0:42 left

The status (`paused`, `finalising` once the last step is done), the step and the time left always
fit: when the terminal is narrow the sparkline goes first, then the bar, then the loss. The time
left is shown only once it is known (see ftctl.service.progress). While the line is up, lines
written to stdout and notices (`note`) are printed above it, never onto it. It appears only when
stdout and stderr are both the terminal. API strings are shown as plain text, never as markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ftctl.cli import _output
from ftctl.service.progress import JobProgress, clock

if TYPE_CHECKING:
    from types import TracebackType

    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live

_SPARK = "▁▂▃▄▅▆▇█"
_SPARK_WIDTH = 24
_BAR_MIN, _BAR_MAX = 10, 30
_GAP = "  "


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


def bar(done: int, total: int | None, width: int) -> str:
    if not total:
        return "░" * width
    filled = min(width, round(width * done / total))
    return "█" * filled + "░" * (width - filled)


def status_line(progress: JobProgress, width: int, now: float) -> str:
    """One line of at most `width` characters (when the kept parts fit at all)."""
    left = progress.seconds_left(now)
    kept = [
        f"{progress.phase:<10}",
        f"step {progress.step}/{progress.total_steps or '?'}",
    ]
    if left is not None:
        kept.append(f"{clock(left)} left")
    loss = "" if progress.loss is None else f"loss {progress.loss:.4f}"
    # Padded to its full width from the start, so the bar does not shrink as the line fills.
    spark = sparkline(progress.losses).ljust(_SPARK_WIDTH) if progress.losses else ""

    def assemble(with_bar: int, with_loss: bool, with_spark: bool) -> str:
        parts = [kept[0]]
        if with_bar:
            parts.append(bar(progress.step, progress.total_steps, with_bar))
        parts.append(kept[1])
        if with_loss and loss:
            parts.append(loss)
        if with_spark and spark:
            parts.append(spark)
        parts.extend(kept[2:])
        return _GAP.join(parts)

    for with_spark, with_loss in ((True, True), (False, True), (False, False)):
        bare = assemble(0, with_loss, with_spark)
        room = width - len(bare) - len(_GAP)
        if room >= _BAR_MIN:
            return assemble(min(_BAR_MAX, room), with_loss, with_spark)
        if not with_spark and not with_loss:
            break
    for with_loss in (True, False):  # no room for a bar: the loss if it fits
        line = assemble(0, with_loss, False)
        if len(line) <= width:
            return line
    return line


def live_display(renderable: Any, *, transient: bool) -> Live:
    """A Rich Live display on stderr that prints stdout's lines above itself."""
    from rich.live import Live

    return Live(
        renderable,
        console=_output.err_console(),
        transient=transient,
        redirect_stdout=True,
        redirect_stderr=False,
        refresh_per_second=4,
    )


def print_above(live: Live | None, text: str) -> None:
    """A notice above a live display (or on stderr when there is none), never onto it."""
    if live is None:
        _output.note(text)
        return
    from rich.text import Text

    live.console.print(Text(text), soft_wrap=True)


def wanted(as_json: bool) -> bool:
    """Only for a person watching: both streams on a terminal, and not JSON."""
    return not as_json and _output.stdout_is_tty() and _output.stderr_is_tty()


class TrainingView:
    """Context manager; feed it events and job objects as `follow` sees them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.progress = JobProgress()
        self._clock = clock
        self._live: Live | None = None

    # The tests and `follow` read these through the tracker.
    @property
    def step(self) -> int:
        return self.progress.step

    @property
    def total_steps(self) -> int | None:
        return self.progress.total_steps

    @property
    def losses(self) -> list[float]:
        return self.progress.losses

    @property
    def status(self) -> str:
        return self.progress.status

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        line = status_line(self.progress, options.max_width, self._clock())
        yield Text(line, no_wrap=True, overflow="crop")

    def __enter__(self) -> TrainingView:
        self._live = live_display(self, transient=True)
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def note(self, text: str) -> None:
        """A notice (a retry, a rate limit) above the line, not onto it."""
        print_above(self._live, text)

    def on_event(self, event: dict[str, Any]) -> None:
        if self.progress.on_event(event):
            self._refresh()

    def on_job(self, job: dict[str, Any]) -> None:
        self.progress.on_job(job)
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()
