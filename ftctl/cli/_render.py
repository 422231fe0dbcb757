"""Human renderings of API objects. Readers of dicts, tolerant of fields the API leaves out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ftctl.cli import _output

if TYPE_CHECKING:
    from rich.table import Table


def timestamp(epoch: Any) -> str:
    """`2024-10-15 06:54:40` (UTC), or `-` when absent."""
    if not isinstance(epoch, int | float):
        return "-"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def event_line(event: dict[str, Any]) -> str:
    return f"[{timestamp(event.get('created_at'))}] {event.get('message', '')}"


def job_hyperparameters(job: dict[str, Any]) -> dict[str, Any]:
    """Resolved hyperparameters: from `method` when present, else the legacy top-level field."""
    method = job.get("method") or {}
    kind = method.get("type")
    from_method = (method.get(kind) or {}).get("hyperparameters") if kind else None
    return dict(from_method or job.get("hyperparameters") or {})


def job_error_message(job: dict[str, Any]) -> str | None:
    """The failure message, if any. A fresh job's `"error": {}` is not a failure."""
    error = job.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return None


def job_summary(job: dict[str, Any]) -> list[tuple[str, str]]:
    hyper = job_hyperparameters(job)
    rows = [
        ("id", job.get("id")),
        ("status", job.get("status")),
        ("model", job.get("model")),
        ("fine_tuned_model", job.get("fine_tuned_model")),
        ("created", timestamp(job.get("created_at"))),
        ("finished", timestamp(job.get("finished_at"))),
        ("estimated_finish", timestamp(job.get("estimated_finish"))),
        ("training_file", job.get("training_file")),
        ("validation_file", job.get("validation_file")),
        ("method", (job.get("method") or {}).get("type")),
        ("hyperparameters", " ".join(f"{k}={v}" for k, v in hyper.items())),
        ("suffix", job.get("user_provided_suffix")),
        ("seed", job.get("seed")),
        ("trained_tokens", job.get("trained_tokens")),
        ("result_files", ", ".join(job.get("result_files") or [])),
        ("error", job_error_message(job)),
    ]
    return [(name, "-" if value in (None, "") else str(value)) for name, value in rows]


def print_summary(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        _output.echo(f"{name:<{width}}  {value}")


@dataclass(frozen=True)
class Column:
    """A table column. `keep` columns (ids, model names) are never cut; the others are
    dropped, highest `drop` first, when the terminal is too narrow, and `wraps` ones (free text
    such as file names) may shrink and wrap first."""

    header: str
    keep: bool = False
    drop: int = 0
    wraps: bool = False
    justify: Literal["left", "right"] = "left"


_MIN_SHRUNK = 8  # the narrowest an optional column is squeezed to before it is dropped
_GAP = 2


def _natural(columns: list[Column], rows: list[tuple[str, ...]], i: int) -> int:
    return max([len(columns[i].header), *(len(row[i]) for row in rows)])


def _needed(
    columns: list[Column], rows: list[tuple[str, ...]], shown: list[int], *, squeezed: bool
) -> int:
    """The width of the shown columns: whole, or with the wrapping ones squeezed."""
    total = sum(
        min(_natural(columns, rows, i), _MIN_SHRUNK)
        if squeezed and columns[i].wraps
        else _natural(columns, rows, i)
        for i in shown
    )
    return total + _GAP * (len(shown) - 1)


def fitting_columns(columns: list[Column], rows: list[tuple[str, ...]], width: int) -> list[int]:
    """Indexes of the columns to show in `width` characters: every `keep` column, then as many
    of the others as fit whole (dropping the highest `drop` first); only when the rest still
    does not fit do the wrapping columns shrink."""
    shown = list(range(len(columns)))
    droppable = sorted((i for i in shown if not columns[i].keep), key=lambda i: -columns[i].drop)
    for i in droppable:
        if _needed(columns, rows, shown, squeezed=False) <= width:
            break
        if columns[i].wraps and _needed(columns, rows, shown, squeezed=True) <= width:
            break  # text that can wrap is worth keeping, squeezed
        shown.remove(i)
    return shown


def build_table(
    columns: list[Column], rows: list[tuple[str, ...]], *, width: int, wide: bool = False
) -> Table:
    """A Rich table whose cells are plain Text (never markup or emoji). Print it at
    `render_width`: kept columns are never cut, even when that is wider than the terminal."""
    from rich.table import Table
    from rich.text import Text

    shown = list(range(len(columns))) if wide else fitting_columns(columns, rows, width)
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    for i in shown:
        column = columns[i]
        whole = wide or not column.wraps
        table.add_column(
            Text(column.header),
            no_wrap=whole,
            min_width=_natural(columns, rows, i) if whole else None,
            overflow="fold",
            justify=column.justify,
        )
    for row in rows:
        table.add_row(*(Text(row[i]) for i in shown))
    return table


def render_width(
    columns: list[Column], rows: list[tuple[str, ...]], width: int, *, wide: bool = False
) -> int:
    """The width to render at: the terminal's, or more when the kept columns need it (the
    terminal then wraps the line rather than ftctl cutting an id)."""
    shown = list(range(len(columns))) if wide else fitting_columns(columns, rows, width)
    return max(width, _needed(columns, rows, shown, squeezed=not wide))


def print_rows(columns: list[Column], rows: list[tuple[str, ...]], *, wide: bool = False) -> None:
    """A table on a terminal; tab-separated rows, every column, no header, for a pipe."""
    if not _output.stdout_is_tty():
        for row in rows:
            _output.echo("\t".join(row))
        return
    console = _output.out_console()
    width = render_width(columns, rows, console.width, wide=wide)
    table = build_table(columns, rows, width=console.width, wide=wide)
    console.width = width  # print(width=...) alone still lays the table out for the terminal
    console.print(table, crop=False)


JOB_COLUMNS = [
    Column("id", keep=True),
    Column("model", keep=True),
    Column("status", drop=1),
    Column("fine-tuned model", keep=True),
    Column("created", drop=2),
    Column("trained tokens", drop=3, justify="right"),
]


def job_row(job: dict[str, Any]) -> tuple[str, ...]:
    tokens = job.get("trained_tokens")
    return (
        str(job.get("id", "-")),
        str(job.get("model", "-")),
        str(job.get("status", "-")),
        str(job.get("fine_tuned_model") or "-"),
        timestamp(job.get("created_at")),
        "-" if tokens is None else str(tokens),
    )


def print_jobs(jobs: list[dict[str, Any]], *, wide: bool = False) -> None:
    print_rows(JOB_COLUMNS, [job_row(job) for job in jobs], wide=wide)
