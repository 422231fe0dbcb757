"""A loopback HTTP proxy that injects faults in front of the mock, for soaks and trust tests:

    with fault_proxy(upstream_url, fail_rate=0.2, drop_rate=0.1, seed=3) as (url, stats): ...

Each request is, at random (deterministic under `seed`): failed before it reaches the mock (429
with Retry-After, 500 or 503: the mock does nothing), dropped after the mock acted (the request
is forwarded, the answer read, then the connection closed without a byte: the client cannot know
what happened), or passed through. `routes` limits faults to request paths containing one of the
strings. One connection per request (`Connection: close`), so a drop never poisons a pool.
"""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

_FAILURES = (
    b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 0\r\n",
    b"HTTP/1.1 500 Internal Server Error\r\n",
    b"HTTP/1.1 503 Service Unavailable\r\n",
)
_FAIL_BODY = b'{"error": {"message": "injected fault", "type": "server_error"}}'


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(body) < length:
        chunk = conn.recv(min(1 << 20, length - len(body)))
        if not chunk:
            return None
        body += chunk
    return method, target, headers, body


@contextmanager
def fault_proxy(
    upstream: str,
    *,
    fail_rate: float = 0.0,
    drop_rate: float = 0.0,
    seed: int = 0,
    routes: Sequence[str] = (),
) -> Iterator[tuple[str, Counter[str]]]:
    """Yield (base URL of the proxy, counts of what it did) for upstream (".../v1")."""
    parts = urlsplit(upstream)
    origin = f"{parts.scheme}://{parts.netloc}"
    rng = random.Random(seed)
    lock = threading.Lock()
    stats: Counter[str] = Counter()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    stop = threading.Event()
    client = httpx.Client(timeout=30)

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            request = _read_request(conn)
            if request is None:
                return
            method, target, headers, body = request
            faulty = not routes or any(r in target for r in routes)
            with lock:
                roll = rng.random() if faulty else 1.0
                which = rng.randrange(len(_FAILURES))
            if roll < fail_rate:
                with lock:
                    stats[f"failed {method}"] += 1
                conn.sendall(
                    _FAILURES[which]
                    + b"content-type: application/json\r\nconnection: close\r\n"
                    + f"content-length: {len(_FAIL_BODY)}\r\n\r\n".encode()
                    + _FAIL_BODY
                )
                return
            forward = {k: v for k, v in headers.items() if k not in ("host", "connection")}
            answer = client.request(method, origin + target, headers=forward, content=body)
            if roll < fail_rate + drop_rate:
                with lock:
                    stats[f"dropped {method}"] += 1
                return  # the mock acted; the client hears nothing
            with lock:
                stats[f"passed {method}"] += 1
            skip = {"content-length", "transfer-encoding", "connection", "content-encoding"}
            head = f"HTTP/1.1 {answer.status_code} {answer.reason_phrase}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items() if k not in skip)
            head += f"content-length: {len(answer.content)}\r\nconnection: close\r\n\r\n"
            conn.sendall(head.encode("latin-1") + answer.content)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}{parts.path}", stats
    finally:
        stop.set()
        thread.join(5)
        server.close()
        client.close()
