"""The live training view `follow` draws on a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ftctl.cli import _live, _output
from ftctl.service.progress import JobProgress, adaptive_interval
from tests.support.cli import RunCli
from tests.support.respx_api import Api

JOB = "ftjob-FO6z0rNnNUmHe4xiVOHC7TEk"
EVENTS = f"/fine_tuning/jobs/{JOB}/events"


def _metrics(step: int, total: int, loss: float) -> dict[str, object]:
    return {
        "object": "fine_tuning.job.event",
        "id": f"ftevent-{step}",
        "type": "metrics",
        "message": f"Step {step}/{total}: training loss={loss:.2f}",
        "data": {"step": step, "total_steps": total, "train_loss": loss},
    }


def test_sparkline_scales_between_min_and_max() -> None:
    assert _live.sparkline([3.0, 2.0, 1.0]) == "█▅▁"
    assert _live.sparkline([1.0, 1.0]) == "▁▁"
    assert _live.sparkline([]) == ""
    assert len(_live.sparkline([float(i) for i in range(100)])) == 24


def test_the_view_tracks_steps_loss_and_status(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140)
    monkeypatch.setattr(_output, "err_console", lambda: console)
    with _live.TrainingView() as view:
        view.on_job({"status": "running"})
        view.on_event({"type": "message", "message": "Fine-tuning job started", "data": {}})
        for step, loss in ((1, 2.5), (2, 1.5), (3, 0.75)):
            view.on_event(_metrics(step, 3, loss))
        console_text = screen.getvalue()
    assert (view.step, view.total_steps, view.losses) == (3, 3, [2.5, 1.5, 0.75])
    assert view.status == "running"
    assert "step 3/3" in console_text
    assert "loss 0.7500" in console_text


def test_follow_draws_the_view_only_on_a_terminal(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[str] = []

    class Recorder(_live.TrainingView):
        def __enter__(self) -> _live.TrainingView:
            drawn.append("entered")
            return self

        def __exit__(self, *exc: object) -> None:
            drawn.append("exited")

    monkeypatch.setattr(_live, "TrainingView", Recorder)
    api.route_fixture("GET", EVENTS, "events/succeeded_all")
    api.route_fixture("GET", f"/fine_tuning/jobs/{JOB}", "jobs/succeeded")
    assert run_cli("follow", JOB).exit_code == 0
    assert drawn == []  # CliRunner's streams are not terminals

    monkeypatch.setattr(_output, "stdout_is_tty", lambda: True)
    monkeypatch.setattr(_output, "stderr_is_tty", lambda: True)
    assert run_cli("follow", JOB, "--json").exit_code == 0
    assert drawn == []  # JSON is for programs
    result = run_cli("follow", JOB)
    assert result.exit_code == 0
    assert drawn == ["entered", "exited"]
    assert "Step 30/30: training loss=0.31" in result.stdout


# -- the line itself: what stays, what goes, when the time left shows ----------------------------


def _progress(
    steps: list[tuple[int, float]], total: int = 30, status: str = "running"
) -> JobProgress:
    progress = JobProgress()
    progress.on_job({"status": status})
    for step, created in steps:
        progress.on_event(
            {
                "type": "metrics",
                "created_at": created,
                "data": {"step": step, "total_steps": total, "train_loss": 3.0 / step},
            }
        )
    return progress


def test_at_60_columns_status_step_and_time_left_stay_and_the_sparkline_goes() -> None:
    progress = _progress([(step, 1000.0 + 2 * step) for step in range(1, 13)])
    line = _live.status_line(progress, 60, now=1024.0)
    assert len(line) <= 60
    assert line.startswith("running")
    assert "step 12/30" in line
    assert "0:36 left" in line  # 18 steps at 2 s each
    assert _live.sparkline(progress.losses) not in line
    wide = _live.status_line(progress, 140, now=1024.0)
    assert _live.sparkline(progress.losses) in wide and "loss 0.2500" in wide


def test_very_narrow_keeps_the_essentials() -> None:
    progress = _progress([(step, 1000.0 + 2 * step) for step in range(1, 13)])
    line = _live.status_line(progress, 36, now=1024.0)
    assert "step 12/30" in line and "left" in line and "█" not in line


def test_no_time_left_until_the_rate_is_known() -> None:
    # Re-attaching delivers the history at once: stamps one second apart say little.
    reattached = _progress([(10, 1000.0), (11, 1000.0), (12, 1001.0)])
    assert reattached.seconds_left(now=5000.0) is None
    assert "left" not in _live.status_line(reattached, 120, now=5000.0)
    # The service's own estimate wins when it has one.
    reattached.on_job({"status": "running", "estimated_finish": 5030})
    assert "0:30 left" in _live.status_line(reattached, 120, now=5000.0)


def test_paused_and_finalising_are_shown() -> None:
    paused = _progress([(5, 1000.0), (6, 1004.0)], status="paused")
    assert _live.status_line(paused, 80, now=1010.0).startswith("paused")
    assert paused.seconds_left(now=1010.0) is None
    done = _progress([(29, 1000.0), (30, 1004.0)])
    line = _live.status_line(done, 80, now=1010.0)
    assert line.startswith("finalising") and "0:00 left" in line


def test_the_poll_interval_adapts_to_the_status() -> None:
    base = 5.0
    assert adaptive_interval("running", base) == 2.0
    assert adaptive_interval("queued", base) == 15.0
    assert adaptive_interval("paused", base) == 15.0
    assert adaptive_interval("validating_files", base) == 5.0
    assert adaptive_interval("queued", 100.0) == 60.0  # capped
    assert adaptive_interval("running", 0.0) == 0.0  # tests and FTCTL_POLL_INTERVAL=0


def test_notices_are_printed_above_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80)
    monkeypatch.setattr(_output, "err_console", lambda: console)
    noted: list[str] = []
    monkeypatch.setattr(_output, "note", noted.append)
    with _live.TrainingView() as view:
        view.on_job({"status": "running"})
        view.note("Warning: Rate limit reached (HTTP 429); retrying in 2s")
    assert noted == []  # not written past the live display
    assert "Warning: Rate limit reached (HTTP 429); retrying in 2s\n" in screen.getvalue()


def test_follow_routes_retry_notices_through_the_view(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes: list[str] = []

    class Recorder(_live.TrainingView):
        def __enter__(self) -> _live.TrainingView:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def note(self, text: str) -> None:
            notes.append(text)

    monkeypatch.setattr(_live, "TrainingView", Recorder)
    monkeypatch.setattr(_output, "stdout_is_tty", lambda: True)
    monkeypatch.setattr(_output, "stderr_is_tty", lambda: True)
    api.route_sequence("GET", EVENTS, ["errors/rate_limit", "events/succeeded_all"])
    api.route_fixture("GET", f"/fine_tuning/jobs/{JOB}", "jobs/succeeded")
    result = run_cli("--max-retries", "0", "follow", JOB)
    assert result.exit_code == 0, result.output
    assert len(notes) == 1 and notes[0].startswith("Warning: ")
    assert "retrying" not in result.stderr
