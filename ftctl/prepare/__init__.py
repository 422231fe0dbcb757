"""Training-data checks, offline and streaming: no Typer, Rich or openai in here.

- `check_training_file(path, model)`: what `ftctl create` runs before uploading.
- `run.prepare`: what `ftctl prepare` does, ending in one `result.PrepareResult`.
- `engine`: bytes and processes (segments, workers, the JSONL parser, token counters);
  `files`: bad files refused (paths, line and nesting bounds, non-JSON constants).
- `records` / `report`: the service's rules for chat, preference and prompt/completion JSONL.
- `legacy`: the checks and fixes of the legacy `openai tools fine_tunes.prepare_data`.

Modules are imported where used, so `ftctl prepare --help` loads none of them, and the workers'
host (ftctl.prepare.host) builds its encoder before anything else is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftctl.prepare.training_file import UploadCheck, check_training_file

__all__ = ["UploadCheck", "check_training_file"]


def __getattr__(name: str) -> Any:
    """`from ftctl.prepare import check_training_file`, loaded on first use."""
    if name in __all__:
        from ftctl.prepare import training_file

        return getattr(training_file, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
