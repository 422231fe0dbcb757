"""The live training view `follow` draws on a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ftctl.cli import _live, _output
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
