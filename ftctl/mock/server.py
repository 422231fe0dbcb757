"""Serving the app with uvicorn, guarded: httptools where installed (h11 otherwise) on the standard
asyncio loop, a deadline for each request's headers, a cap on open connections below the file
descriptor limit, and a ready callback that runs only once connections are accepted.

Not uvloop (measured with 0.23): with the server saturated (a load generator keeping 50
connections busy) uvloop leaves some connections unread for up to ~300 ms while it serves the
others, and at 200 connections for seconds (p99 2.3-2.9 s). Each request's own time from its
first byte to its last stays under ~40 ms, and answers never stop flowing; the same happens with
an app that only burns 200 us per request. The asyncio loop serves the same load in turn (on a
quiet machine, p99.9 under 50 ms at 50 connections, p99 ~50 ms at 200), at about the same
requests per second."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp

HEADER_TIMEOUT = 10.0  # seconds a connection may take to send a request's headers
KEEP_ALIVE_TIMEOUT = 5  # seconds an idle keep-alive connection is kept
FD_RESERVE = 32  # descriptors kept free for files, the state database and the listener
BACKLOG = 2048  # pending connections the kernel holds; also asyncio's accept batch


def loopback_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; raises OSError when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def connection_limits() -> tuple[int, int]:
    """(connections allowed, listen backlog), after raising the soft descriptor limit to the hard
    one. asyncio's loop accepts up to `backlog` connections in one go before any of them reaches
    the protocol (where the cap pushes out idle ones), so the cap leaves room for a whole batch:
    the server never runs out of descriptors (which would stop it accepting for a second)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return 1000, BACKLOG
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft == resource.RLIM_INFINITY:
        return 10_000, BACKLOG
    backlog = max(8, min(BACKLOG, (soft - FD_RESERVE) // 2))
    return max(8, min(10_000, soft - FD_RESERVE - backlog)), backlog


def _protocol_base() -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    return HttpToolsProtocol


def guarded_protocol(max_connections: int, header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, plus: a connection that has not sent a complete request's
    headers within `header_timeout` is closed, and at `max_connections` a new connection pushes
    out the longest-idle one (or is itself refused when every connection is busy). A socket that
    is opened and left idle would otherwise hold a descriptor for ever, and enough of them stop
    the server from accepting anyone."""
    base: Any = _protocol_base()

    class Guarded(base):  # type: ignore[misc]
        _header_timer: asyncio.TimerHandle | None = None
        _idle_since = 0.0

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm()
            if len(self.connections) > max_connections:
                idle = [c for c in self.connections if c is not self and c.idle()]
                if idle:
                    min(idle, key=lambda c: c._idle_since).transport.close()
                else:
                    transport.abort()

        def idle(self) -> bool:
            cycle = self.cycle
            return (cycle is None or cycle.response_complete) and not self.transport.is_closing()

        def _arm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._idle_since = self.loop.time()
            self._header_timer = self.loop.call_later(header_timeout, self._expire, self.cycle)

        def _expire(self, cycle: Any) -> None:
            if self.cycle is cycle and self.idle():
                self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            super().connection_lost(exc)

    return Guarded


FULL_COLLECTION_SECONDS = 60.0
IDLE_WAIT_SECONDS = 10.0  # a due walk waits this long at most for a moment with no request
IDLE_POLL_SECONDS = 0.05


def time_full_collections(
    loop: asyncio.AbstractEventLoop,
    busy: Callable[[], bool] = lambda: False,
    every: float = FULL_COLLECTION_SECONDS,
) -> asyncio.TimerHandle:
    """Python collects its oldest generation when enough survivors pile up; with thousands of
    stored jobs that walk lands inside requests. For a process that runs only the server: young
    generations stay automatic, and the full walk runs once a minute instead, at a moment no
    request is in flight (`busy` false; after IDLE_WAIT_SECONDS of waiting, anyway). After each
    walk the survivors are frozen (`gc.freeze`), so the next walk covers only what the minute
    added: stored records live as long as the server, and reference counting still frees
    whatever is not a cycle. Stored jobs keep their per-step metrics as untracked tuples, so the
    first walk after 2,000 jobs are created covers about 21,000 objects (7 ms on a quiet
    machine)."""
    gc.set_threshold(*gc.get_threshold()[:2], 1_000_000_000)
    gc.freeze()

    def collect(waited: float = 0.0) -> None:
        if waited < IDLE_WAIT_SECONDS and busy():
            loop.call_later(IDLE_POLL_SECONDS, collect, waited + IDLE_POLL_SECONDS)
            return
        gc.collect()
        gc.freeze()
        loop.call_later(every, collect)

    return loop.call_later(every, collect)


class GuardedServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[], None] | None,
        timed_full_collections: bool = False,
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._timed_full_collections = timed_full_collections

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self._timed_full_collections:
            tasks = self.server_state.tasks  # the requests in flight
            time_full_collections(asyncio.get_running_loop(), busy=lambda: bool(tasks))
        if self.started and self._on_ready is not None:
            self._on_ready()  # the listener accepts from here on


def build_server(
    app: ASGIApp,
    *,
    on_ready: Callable[[], None] | None = None,
    header_timeout: float = HEADER_TIMEOUT,
    max_connections: int | None = None,
    timed_full_collections: bool = False,
) -> GuardedServer:
    """The guarded server. `timed_full_collections` is for a process that runs only the server
    (`ftctl mock serve`); an in-process server in tests leaves the interpreter's GC alone."""
    limit, backlog = connection_limits()
    config = uvicorn.Config(
        app,
        http=guarded_protocol(max_connections or limit, header_timeout),
        loop="asyncio",  # not uvloop: see the module's docstring
        log_level="warning",
        access_log=False,  # the app logs its own line per request, with the request id
        lifespan="off",
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        backlog=backlog,
    )
    return GuardedServer(config, on_ready, timed_full_collections)
