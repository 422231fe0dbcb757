"""Per-invocation state set by the root callback: settings and a lazily built API client."""

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
            from ftctl.cli._output import debug_log
            from ftctl.client import build_client

            self._client = build_client(self.settings, log=debug_log)
        return self._client


# One process runs one command; the root callback replaces this before any command runs.
state = AppState()


def current() -> AppState:
    """The state of this invocation (read at call time: the callback rebinds `state`)."""
    return state
