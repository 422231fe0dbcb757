"""Human renderings of API objects. Readers of dicts, tolerant of fields the API leaves out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ftctl.cli import _output


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


JOB_COLUMNS = ("id", "model", "status", "fine-tuned model", "created", "trained tokens")


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


def print_jobs(jobs: list[dict[str, Any]]) -> None:
    """A table on a terminal; tab-separated rows, no header, for a pipe."""
    if not _output.stdout_is_tty():
        for job in jobs:
            _output.echo("\t".join(job_row(job)))
        return
    from rich.table import Table

    table = Table(*JOB_COLUMNS, box=None, header_style="bold", pad_edge=False)
    for job in jobs:
        table.add_row(*job_row(job))
    _output.out_console().print(table)
