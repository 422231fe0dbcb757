"""A 1 GB file through the Uploads API (ftctl's FilesService against `ftctl mock serve`) against
a plain loopback copy of the same bytes, with ftctl's peak memory."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
from pathlib import Path

from tests.bench import _harness as h

DESCRIPTION = (
    "upload: a 1 GB JSONL file through the Uploads API (64 MB parts, 3 at a time, md5) vs a plain "
    "loopback socket copy (target: ftctl's peak RSS under 200 MB, flat whatever the size)"
)
SIZE = 1 << 30
RSS_TARGET_MB = 200.0

_UPLOAD = """
import sys, time
from pathlib import Path
import httpx, openai
from ftctl.service.files import FilesService
from ftctl.service.upload_record import UploadRecord, digests
path = Path(sys.argv[2])
http = httpx.Client(timeout=600)
client = openai.OpenAI(api_key="sk-bench-upload", base_url=sys.argv[1], http_client=http)
service = FilesService(client, record=UploadRecord(Path(sys.argv[3])))
phases = {}
complete = service._complete
def timed_complete(*args):
    phases["parts"] = time.perf_counter() - phases.pop("start")
    start = time.perf_counter()
    try:
        return complete(*args)
    finally:
        phases["complete (the mock assembles and checks 1 GB)"] = time.perf_counter() - start
service._complete = timed_complete
start = time.perf_counter()
digest = digests(path)
phases["sha256+md5"] = time.perf_counter() - start
phases["start"] = time.perf_counter()
file = service.upload(path, digest=digest)
assert file["bytes"] == path.stat().st_size, file
print(", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items()))
"""

_COPY = """
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock:
    with open(sys.argv[2], "rb") as f:
        sock.sendfile(f)
"""


def _data(path: Path) -> Path:
    if path.exists() and path.stat().st_size == SIZE:
        return path
    line = (json.dumps({"messages": [{"role": "user", "content": "x" * 200}]}) + "\n").encode()
    block = line * ((1 << 20) // len(line) + 1)
    with path.open("wb") as out:
        written = 0
        while written < SIZE:
            chunk = block[: min(len(block), SIZE - written)]
            out.write(chunk)
            written += len(chunk)
    return path


def _sink() -> tuple[int, threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def drain() -> None:
        conn, _ = server.accept()
        with conn:
            while conn.recv(1 << 20):
                pass
        server.close()

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def run() -> bool:
    data = _data(h.data_dir("upload") / "big.jsonl")
    work = h.fresh_dir("upload")
    port, drain = _sink()
    copy = h.measure(
        "plain loopback copy (socket.sendfile)", [h.PYTHON, "-c", _COPY, str(port), str(data)]
    )
    drain.join(60)
    mock = subprocess.Popen(
        [h.PYTHON, "-m", "ftctl", "mock", "serve", "--port", "0", "--state", str(work / "mock")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=h.ROOT,
    )
    try:
        assert mock.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", mock.stdout.readline())
        if not match:
            return h.check("mock", False, "did not start")
        upload = h.measure(
            "ftctl Uploads API (sha256+md5, 64 MB parts x3)",
            [h.PYTHON, "-c", _UPLOAD, match.group(1), str(data), str(work / "uploads.json")],
            cwd=h.ROOT,
        )
    finally:
        mock.terminate()
        mock.wait(10)
    print(h.table([copy, upload]))
    print(f"  ftctl's phases: {upload.stdout.strip()}")
    mb = SIZE / (1 << 20)
    print(
        f"  throughput: copy {mb / copy.wall_s:,.0f} MB/s, ftctl {mb / upload.wall_s:,.0f} MB/s "
        f"({upload.wall_s / copy.wall_s:.1f}x the copy's time; ftctl also hashes the file and "
        "the mock writes it to disk)"
    )
    ok = h.check("upload", upload.returncode == 0, upload.stderr.strip()[-300:] or "file stored")
    return ok and h.check(
        "memory",
        upload.max_rss_mb < RSS_TARGET_MB,
        f"peak RSS {upload.max_rss_mb:.0f} MB for a {mb:,.0f} MB file "
        f"(target < {RSS_TARGET_MB:.0f})",
    )
