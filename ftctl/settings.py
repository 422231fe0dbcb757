"""Settings from the environment and global flags, resolved once per invocation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Settings:
    api_key: str | None = field(default=None, repr=False)  # never printed
    base_url: str = DEFAULT_BASE_URL
    organization: str | None = None
    project: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    debug: bool = False

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        debug: bool = False,
    ) -> Settings:
        """Flags win over the environment, which wins over defaults."""
        env = os.environ if env is None else env
        return cls(
            api_key=env.get("OPENAI_API_KEY") or None,
            base_url=(base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            organization=env.get("OPENAI_ORG_ID") or None,
            project=env.get("OPENAI_PROJECT_ID") or None,
            timeout=timeout if timeout is not None else 60.0,
            max_retries=max_retries if max_retries is not None else 2,
            debug=debug,
        )
