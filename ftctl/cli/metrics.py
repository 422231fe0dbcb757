"""`ftctl metrics`: what a job learned, from its result file: a chart of the training and
validation loss and accuracy in the terminal (plotext), the CSV in a pipe or with --csv, an image
with --png (matplotlib, the optional `ftctl[plot]` extra)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ftctl.cli import _output
from ftctl.errors import UsageError

if TYPE_CHECKING:
    from ftctl.service.metrics import Metrics

# (chart title, column, series label) in drawing order.
LOSS_SERIES = (("train_loss", "train"), ("valid_loss", "valid"))
ACCURACY_SERIES = (
    ("train_accuracy", "train"),
    ("train_mean_token_accuracy", "train"),
    ("valid_mean_token_accuracy", "valid"),
    ("valid_accuracy", "valid"),
)
# Reinforcement jobs: rewards instead of (or beside) accuracy.
REWARD_SERIES = (("train_reward_mean", "train reward"), ("valid_reward_mean", "valid reward"))


def _plot_missing() -> UsageError:
    return UsageError(
        "--png needs matplotlib, which is not installed",
        hint="install the plotting extra: pip install 'ftctl[plot]'",
    )


def _label(job_id: str, what: str, several: bool) -> str:
    return f"{job_id} {what}" if several else what


def charts(metrics: list[Metrics]) -> list[tuple[str, list[tuple[str, list[float], list[float]]]]]:
    """(title, [(label, steps, values)]) for each chart worth drawing: loss, then accuracy (or
    reward), each job's series overlaid."""
    several = len(metrics) > 1
    out = []
    for title, series in (
        ("loss", LOSS_SERIES),
        ("accuracy", ACCURACY_SERIES),
        ("reward", REWARD_SERIES),
    ):
        lines = []
        for one in metrics:
            for column, what in series:
                if one.has(column):
                    steps, values = one.series(column)
                    lines.append((_label(one.job_id, what, several), steps, values))
        if lines:
            out.append((title, lines))
    return out


_MARKS = ("braille", "•", "+", "x", "o", "*")


def terminal_chart(metrics: list[Metrics], width: int, height: int, *, color: bool) -> str:
    import plotext

    drawn = charts(metrics)
    figure = plotext.figure
    figure.clear()
    figure.subplots(len(drawn), 1)
    for row, (title, lines) in enumerate(drawn, start=1):
        plot = figure.subplot(row, 1)
        for index, (label, steps, values) in enumerate(lines):
            # Without colour, each series needs its own mark to be told apart.
            marker = "braille" if color else _MARKS[index % len(_MARKS)]
            plot.draw(plot.signal(steps, values, marker=marker).lines().label(label))
        # The legend in the corner the curves leave empty: top right for a falling loss,
        # bottom right for a rising accuracy or reward.
        right = max(max(steps) for _, steps, _ in lines)
        if title == "loss":
            top = max(max(values) for _, _, values in lines)
            plot.legend(x=right, y=top, ha="right", va="top", relative=True)
        else:
            bottom = min(min(values) for _, _, values in lines)
            plot.legend(x=right, y=bottom, ha="right", va="bottom", relative=True)
        plot.title(title)
        if row == len(drawn):
            plot.label("step")
    figure.plot_size(width, height)
    text: str = figure.build().string(colorless=not color)
    figure.clear()
    return text


def write_png(metrics: list[Metrics], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise _plot_missing() from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    drawn = charts(metrics)
    fig, axes = pyplot.subplots(len(drawn), 1, figsize=(9, 3.2 * len(drawn)), squeeze=False)
    for ax, (title, lines) in zip(axes[:, 0], drawn, strict=True):
        for label, steps, values in lines:
            ax.plot(steps, values, label=label, linewidth=1.2)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent or ".")
    os.close(fd)
    try:
        fig.savefig(temp, dpi=120)
        os.replace(temp, path)
    finally:
        pyplot.close(fig)
        if os.path.exists(temp):
            os.unlink(temp)


def metrics(
    job_ids: Annotated[
        list[str],
        typer.Option(
            "--id",
            "-i",
            help="Fine-tuning job id; repeat to overlay several jobs.",
            show_default=False,
        ),
    ],
    csv_path: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="Also write the metrics as CSV to this file.", show_default=False
        ),
    ] = None,
    png_path: Annotated[
        Path | None,
        typer.Option(
            "--png",
            help="Also draw the charts to this PNG (needs ftctl[plot]).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing --csv / --png files.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print {job, result_files, columns, rows} per job as one JSON list (for jq).",
        ),
    ] = False,
) -> None:
    """Chart a finished job's training and validation loss and accuracy.

    Reads the job's result file(s) (step,train_loss,train_accuracy,valid_loss,
    valid_mean_token_accuracy, plus reward columns for reinforcement jobs). On a terminal it
    draws the charts; in a pipe it prints the CSV (with a leading `job` column for several
    jobs).
    """
    from ftctl.cli._following import jobs_service
    from ftctl.cli.files import check_target, files_service, write_new_file
    from ftctl.service.metrics import job_metrics, to_csv

    for path in (csv_path, png_path):
        if path is not None:
            check_target(path, force=force)
    if png_path is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise _plot_missing() from None
    jobs, files = jobs_service(), files_service()
    found = [job_metrics(jobs, files, job_id) for job_id in dict.fromkeys(job_ids)]
    if csv_path is not None:
        write_new_file(csv_path, to_csv(found).encode(), force=force)
        _output.note(f"Wrote {csv_path}")
    if png_path is not None:
        write_png(found, png_path)
        _output.note(f"Wrote {png_path}")
    if as_json:
        _output.emit_json([one.as_json() for one in found])
        return
    if not _output.stdout_is_tty():
        _output.echo(to_csv(found), end="")
        return
    size = shutil.get_terminal_size((100, 30))
    height = max(16, min(size.lines - 4, 40))
    color = "NO_COLOR" not in os.environ
    _output.echo(terminal_chart(found, max(40, size.columns), height, color=color))
    for one in found:
        _output.echo(summary(one))


def summary(one: Metrics) -> str:
    """`ftjob-...: 30 steps; train_loss 2.91 -> 0.12; valid_loss ...`"""
    parts = [f"{one.job_id}: {len(one.rows)} steps"]
    for column, _ in LOSS_SERIES:
        _, values = one.series(column)
        if values:
            parts.append(f"{column} {values[0]:.4f} -> {values[-1]:.4f} (min {min(values):.4f})")
    return "; ".join(parts)


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics)
