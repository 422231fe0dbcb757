"""The one result of `ftctl prepare`, whatever the data: one JSON shape and one exit rule.

Chat, preference and prompt/completion data, a prompt/completion file meant for a chat model, a
fatal legacy check and `--to-chat` all end here: `usable` says whether the file to upload would
be accepted (exit 0) or not (exit 2, the problems on stderr, one line each), and `next` holds the
commands that move on from here, every one of them a command that runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ftctl.prepare.report import DataReport

EXIT_USABLE = 0
EXIT_REJECTED = 2


@dataclass(frozen=True)
class LegacySummary:
    """What the legacy prompt/completion checks said and did."""

    task: str
    messages: list[str]
    actions: list[dict[str, Any]]  # key, message, necessary, applied


@dataclass(frozen=True)
class PrepareResult:
    file: Path  # the input
    report: DataReport  # about the file to upload: the input, or what prepare wrote
    prepared_files: list[Path] = field(default_factory=list)
    legacy: LegacySummary | None = None
    next_commands: list[str] = field(default_factory=list)
    reminders: list[str] = field(default_factory=list)  # what to remember when using the model
    # False when the checks stopped (or the user did) before the data to upload was counted
    reached_report: bool = True

    @property
    def usable(self) -> bool:
        return self.report.usable

    @property
    def exit_code(self) -> int:
        return EXIT_USABLE if self.usable else EXIT_REJECTED

    def with_problem(self, category: str, message: str) -> PrepareResult:
        """The result with one more problem (a file-level one: no line)."""
        report = self.report
        errors = {**report.errors, category: report.errors.get(category, 0) + 1}
        return replace(
            self,
            report=replace(report, errors=errors, problems=[*report.problems, message]),
        )

    def as_json(self) -> dict[str, Any]:
        data = self.report.as_json()
        data["file"] = str(self.file)
        data["checked_file"] = str(self.report.path)
        data["prepared_files"] = [str(p) for p in self.prepared_files]
        data["legacy"] = (
            None
            if self.legacy is None
            else {
                "task": self.legacy.task,
                "messages": list(self.legacy.messages),
                "actions": list(self.legacy.actions),
            }
        )
        data["next"] = list(self.next_commands)
        return data
