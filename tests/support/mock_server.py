"""Start the mock service in-process on an ephemeral loopback port, for tests.

    from tests.support.mock_server import running_mock

    with running_mock(speed=1000, seed=7) as base_url:   # "http://127.0.0.1:PORT/v1"
        client = openai.OpenAI(base_url=base_url, api_key="sk-test")

The server runs in a daemon thread and is always stopped on exit, even when the body raises.
`FakeClock` steps time by
hand (`clock=FakeClock()`, then `clock.advance(seconds)`), for tests that must see a job in a
given state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ftctl.mock.store import Limits

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class FakeClock:
    """A clock that moves only when told to; pass it as `clock=` to `running_mock`."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def running_mock(
    *,
    speed: float = 1000.0,
    seed: int = 0,
    org: str = "personal",
    clock: Callable[[], float] = time.time,
    limits: Limits | None = None,
    app_out: list[Any] | None = None,
    **options: Any,
) -> Iterator[str]:
    """Yield the base URL (ending in /v1) of a fresh mock; stop it on exit.

    app_out, if given, receives the Starlette app (its `.state.store` holds the state); other
    options (state, faults, api_key, ...) go to `create_app`. The server is the one
    `ftctl mock serve` runs (`ftctl.mock.server`).
    """
    from ftctl.mock import create_app
    from ftctl.mock.server import build_server, loopback_socket

    app = create_app(speed=speed, seed=seed, org=org, clock=clock, limits=limits, **options)
    if app_out is not None:
        app_out.append(app)
    sock = loopback_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = build_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the mock server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():  # a stuck connection: stop waiting for it
            server.force_exit = True
            thread.join(STOP_TIMEOUT)
        sock.close()
