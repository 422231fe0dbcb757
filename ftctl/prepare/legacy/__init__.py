"""The checks and fixes of the legacy `openai tools fine_tunes.prepare_data`, for prompt/completion
data, in its order, with its thresholds and messages; rewritten to stream.

Like the legacy tool, every check looks at the data with only the *necessary* fixes applied (column
names lower-cased, extra columns and empty completions dropped); the *recommended* fixes the user
accepts are then applied in order. Here that is two passes over the file, in worker processes for
big JSON Lines files: `analyze` gathers what every check needs (`gather`) and runs the checks
(`checks`, one function each); `write_prepared` re-reads the file, fixing each row on its way to
the output (`fixes`).
"""

from __future__ import annotations

from collections.abc import Callable

from ftctl.prepare.legacy.checks import Action, Analysis, messages_for_chat, run_checks, shown
from ftctl.prepare.legacy.fixes import Outcome, split_sizes, to_chat_rows, write_prepared
from ftctl.prepare.legacy.gather import (
    CLASSIFICATION,
    OPEN_ENDED,
    Progress,
    find_suffix_repeats,
    gather,
)
from ftctl.prepare.readers import Source

__all__ = [
    "CLASSIFICATION",
    "OPEN_ENDED",
    "Action",
    "Analysis",
    "Outcome",
    "analyze",
    "messages_for_chat",
    "shown",
    "split_sizes",
    "to_chat_rows",
    "write_prepared",
]


def _column(columns: dict[str, None], name: str) -> str:
    """The column that stands for name: itself, else the first whose lower case it is."""
    if name in columns:
        return name
    return next((c for c in columns if c.lower() == name), name)


def analyze(
    source: Source,
    workers: int | None = None,
    progress: Progress | None = None,
    preload: Callable[[], object] | None = None,
) -> Analysis:
    """Run every check on source. Stops at the first fatal problem (Analysis.error), as the
    legacy tool did; messages gathered until then are kept. preload() (loading the token
    encoder the writing pass needs) runs while the first pass's workers read the file."""
    stats = gather(source, "prompt", "completion", workers, progress, preload)
    prompt_key = _column(stats.columns, "prompt")
    completion_key = _column(stats.columns, "completion")
    if (prompt_key, completion_key) != ("prompt", "completion"):
        columns = stats.columns
        stats = gather(source, prompt_key, completion_key, workers)
        stats.columns = columns
    analysis = Analysis(source=source, stats=stats)
    return run_checks(analysis, lambda: find_suffix_repeats(source, stats))
