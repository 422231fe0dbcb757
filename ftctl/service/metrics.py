"""A job's step metrics, from the result file the service writes when it finishes.

The file is CSV: `step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy`, plus
reward and grader columns for reinforcement jobs; validation cells are empty on steps without a
validation pass. Some deployments hand it back base64-encoded (a published notebook decodes it):
both are accepted. Parsing is pure; `job_metrics` reads the files through the services.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftctl.errors import FtctlError

if TYPE_CHECKING:
    from ftctl.service.files import FilesService
    from ftctl.service.jobs import JobsService

Row = dict[str, float | None]


class MetricsError(FtctlError):
    """A result file that is not the metrics CSV, or a job that has none yet."""


@dataclass(frozen=True)
class Metrics:
    job_id: str
    file_ids: tuple[str, ...]
    columns: tuple[str, ...]  # `step` first, then the file's own order
    rows: tuple[Row, ...]

    def series(self, column: str) -> tuple[list[float], list[float]]:
        """(steps, values) for the rows where `column` has a value."""
        steps, values = [], []
        for row in self.rows:
            step, value = row.get("step"), row.get(column)
            if step is not None and value is not None:
                steps.append(step)
                values.append(value)
        return steps, values

    def has(self, column: str) -> bool:
        return any(row.get(column) is not None for row in self.rows)

    def as_json(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "result_files": list(self.file_ids),
            "columns": list(self.columns),
            "rows": [dict(row) for row in self.rows],
        }


def decode_text(content: bytes) -> str:
    """The CSV text of a result file, decoding base64 when that is what it holds."""
    text = content.decode("utf-8-sig", errors="replace")
    if text.lstrip().startswith("step"):
        return text
    try:
        decoded = base64.b64decode(content.strip(), validate=True).decode("utf-8-sig")
    except (binascii.Error, ValueError):
        return text
    return decoded if decoded.lstrip().startswith("step") else text


def _number(cell: str, where: str, column: str) -> float | None:
    """A cell's value: whole numbers as written stay int (`step` is 1, not 1.0, in --json)."""
    cell = cell.strip()
    if not cell:
        return None
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        raise MetricsError(f"{where}: {column}: not a number: {cell[:40]!r}") from None


def parse_csv(content: bytes, *, source: str = "result file") -> tuple[tuple[str, ...], list[Row]]:
    """(columns, rows) of a metrics CSV; cells become floats, empty cells None."""
    reader = csv.reader(io.StringIO(decode_text(content)))
    header = [name.strip() for name in next(reader, [])]
    if not header or header[0] != "step":
        raise MetricsError(
            f"{source}: not a metrics CSV (it should start with a `step` column)",
            hint="check the file id: `ftctl files get ID` shows its purpose",
        )
    rows: list[Row] = []
    for line_number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        where = f"{source}:{line_number}"
        rows.append(
            {
                name: _number(cells[i], where, name) if i < len(cells) else None
                for i, name in enumerate(header)
            }
        )
    return tuple(header), rows


def merge(job_id: str, parsed: list[tuple[str, tuple[str, ...], list[Row]]]) -> Metrics:
    """One job's metrics from one or more result files, ordered by step."""
    columns: list[str] = []
    rows: list[Row] = []
    for _, names, file_rows in parsed:
        columns.extend(name for name in names if name not in columns)
        rows.extend(file_rows)
    rows.sort(key=lambda row: row.get("step") or 0.0)
    return Metrics(job_id, tuple(file_id for file_id, _, _ in parsed), tuple(columns), tuple(rows))


def to_csv(metrics: list[Metrics]) -> str:
    """The metrics as CSV; with several jobs, a leading `job` column tells them apart."""
    columns: list[str] = []
    for one in metrics:
        columns.extend(name for name in one.columns if name not in columns)
    several = len(metrics) > 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((["job"] if several else []) + columns)
    for one in metrics:
        for row in one.rows:
            cells = [_cell(row.get(name)) for name in columns]
            writer.writerow(([one.job_id] if several else []) + cells)
    return out.getvalue()


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


def job_metrics(jobs: JobsService, files: FilesService, job_id: str) -> Metrics:
    """Download and parse every result file of a job."""
    job = jobs.retrieve(job_id)
    file_ids = [str(f) for f in job.get("result_files") or []]
    if not file_ids:
        status = job.get("status", "unknown")
        raise MetricsError(
            f"job {job_id} has no result file yet (status: {status})",
            hint=f"the service writes it when the job succeeds: `ftctl follow -i {job_id}`",
        )
    parsed = []
    for file_id in file_ids:
        columns, rows = parse_csv(files.content(file_id), source=file_id)
        parsed.append((file_id, columns, rows))
    return merge(job_id, parsed)
