"""An offline, stateful stand-in for OpenAI's fine-tuning service (see `create_app`).

Nothing here imports ftctl.cli: the mock shares no state with the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftctl.mock.app import create_app as create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing ftctl.mock.store or .training does not pull in Starlette.
    if name == "create_app":
        from ftctl.mock.app import create_app

        return create_app
    raise AttributeError(name)
