"""What `ftctl create` checks before it uploads a training file: the service's rules and the
token count, from ftctl.prepare's scan (re-exported as ftctl.prepare.check_training_file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class UploadCheck:
    """What the service would make of a training file, before it is uploaded."""

    format: str  # "prompt_completion" | "chat" | "preference" | "reinforcement"
    examples: int
    problems: list[str] = field(default_factory=list)  # "file:line: field: message", one each
    # sampled per kind, with an "N more line(s)" line for the rest: problem_count counts them all
    problem_count: int = 0
    total_tokens: int = 0
    billed_tokens: int = 0
    n_epochs: int = 0
    estimated_cost_usd: float | None = None
    method: str = "supervised"  # the method the data trains with (records.FORMAT_METHOD)

    @property
    def usable(self) -> bool:
        return not self.problems


def check_training_file(
    path: Path,
    model: str,
    *,
    n_epochs: int | None = None,
    method: str | None = None,
    grader: Path | None = None,
) -> UploadCheck:
    """Check a JSONL training file as the service would, streaming it (flat memory), and count its
    tokens with the model's encoding. Never prints. Prices honour FTCTL_PRICES. Raises
    ftctl.errors.InputError when the file cannot be read.

    method None follows the data (preference lines mean dpo, other JSONL supervised);
    "reinforcement" checks chat lines as reinforcement examples. A method the model does not
    offer, or that the data contradicts, is one of the problems. A grader file means
    reinforcement, and each line must hold every `{{item.x}}` the grader reads."""
    from ftctl.prepare.grading import add_grader_problems
    from ftctl.prepare.records import FORMAT_METHOD, REINFORCEMENT
    from ftctl.prepare.report import build_report
    from ftctl.prepare.scan import scan_jsonl
    from ftctl.pricing import load_overrides
    from ftctl.tokens import encoding_name_for_model

    path = Path(path)
    if grader is not None and method is None:
        method = "reinforcement"
    fmt = REINFORCEMENT if method == "reinforcement" else None
    scan = scan_jsonl(path, encoding_name_for_model(model), fmt=fmt)
    if grader is not None:
        add_grader_problems(scan, grader)
    if method is not None and FORMAT_METHOD[scan.format] != method:
        scan.add_problem(
            "wrong_method_for_data",
            _first_example_line(path),
            None,
            f"{scan.format} data trains with the {FORMAT_METHOD[scan.format]} method, not {method}",
        )
    report = build_report(scan, model, load_overrides(), n_epochs=n_epochs)
    return UploadCheck(
        format=report.format,
        examples=report.examples,
        problems=report.problems,
        problem_count=sum(report.errors.values()),
        total_tokens=report.total_tokens,
        billed_tokens=report.billed_tokens,
        n_epochs=report.n_epochs,
        estimated_cost_usd=report.estimated_cost_usd,
        method=FORMAT_METHOD[report.format],
    )


def _first_example_line(path: Path) -> int:
    """The number of the first non-blank line (the one the data's format is read from)."""
    from ftctl.prepare.engine import first_values

    return next((number for number, _raw in first_values(path)), 1)
