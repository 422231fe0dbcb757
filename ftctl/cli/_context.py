"""Per-invocation state set by the root callback: settings and a lazily built API client.

Read it with `current()` at call time: the root callback installs a new state for each invocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ftctl.settings import Settings

if TYPE_CHECKING:
    import openai


@dataclass
class AppState:
    settings: Settings = field(default_factory=Settings)
    _client: openai.OpenAI | None = None

    def client(self) -> openai.OpenAI:
        """Build the SDK client on first use, so offline commands never import openai."""
        if self._client is None:
            from ftctl.cli._output import note
            from ftctl.client import build_client

            # The first --debug line says which platform this is and how it was chosen.
            self.debug_log(self.settings.describe())
            self._client = build_client(self.settings, log=self.debug_log, warn=note)
        return self._client

    def debug_log(self, text: str) -> None:
        """One `--debug` line on stderr, the key redacted."""
        import sys

        from ftctl.secrets import redact

        if self.settings.debug:
            sys.stderr.write("debug: " + redact(text, self.settings.api_key) + "\n")
            sys.stderr.flush()


# One slot, replaced by the root callback for each invocation (a list, so no `global`).
_slot: list[AppState] = [AppState()]


def install(state: AppState) -> None:
    """Make `state` the current one (the root callback does this once per invocation)."""
    _slot[0] = state


def current() -> AppState:
    """The state of this invocation."""
    return _slot[0]
