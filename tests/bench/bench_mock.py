"""The mock server under load, next to the spec mocks: requests/s and p50/p99 from `wrk` (50
connections) with the server on one core and wrk on the other, for ftctl's mock at 20, 500 and
2,000 stored jobs (2,000 jobs also means 2,000 tuned models in GET /models) and for Stoplight Prism
and Steady serving the same OpenAPI file; then the list/get/events mix at 50 and 200 clients.

wrk comes from Debian (`apt-get install -y wrk`, tried once if it is missing); the peers from npm
into bench-out/npm. Whatever cannot be installed is skipped with a note.

Targets (issue 11): listing with 500 jobs within 20% of listing with 20; listing at least half
of Steady's requests/s; chat ahead of Steady; p99 under 50 ms on every route with 2,000 jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.bench._harness import OUT, ROOT

DESCRIPTION = (
    "mock server: req/s, p50/p99 at 20/500/2,000 jobs vs Prism and Steady (wrk, 50 connections)"
)
SECONDS = int(os.environ.get("FTCTL_BENCH_SECONDS", "8"))
CONNECTIONS = 50
SPEC = Path("/work/shared/openai-openapi/openapi.yaml")
if not SPEC.exists():
    SPEC = ROOT / "fixtures" / "openapi" / "openapi.json"
BOOK = (ROOT / "fixtures" / "book" / "train_data_prepared.jsonl").read_bytes()
KEY = "sk-bench"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}]}
ROUTES = ("list", "get", "models", "chat")
LABELS = {
    "list": "GET /fine_tuning/jobs?limit=20",
    "get": "GET /fine_tuning/jobs/{id}",
    "models": "GET /models",
    "chat": "POST /chat/completions",
}
SERVER_CPU, LOAD_CPU = "0", "1"


@dataclass(frozen=True)
class Figure:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    # the larger share of the run the server or wrk was runnable but had no CPU
    cpu_wait: float | None = None

    def cell(self) -> str:
        flag = f", {self.errors} errors" if self.errors else ""
        if self.cpu_wait is not None and self.cpu_wait >= NOISY_WAIT:
            flag += f" (noisy: server or wrk waited for a CPU {self.cpu_wait:.0%} of the run)"
        return f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms{flag}"


# Another process on the server's or wrk's core stretches the tail far more than the mean: a
# figure taken while either waited for a CPU this share of the time or more is marked.
NOISY_WAIT = 0.05
_PIDS: dict[str, int] = {}  # origin -> the server's process id


def _waiting_seconds(pid: int) -> float | None:
    """Seconds the process's threads have spent runnable but not running (Linux schedstat)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return (
            sum(int(Path(f"/proc/{pid}/task/{t}/schedstat").read_text().split()[1]) for t in tasks)
            / 1e9
        )
    except (OSError, IndexError, ValueError):
        return None


# -- tools --------------------------------------------------------------------------------------
def _pinned(cpu: str, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", cpu, *command]
    return command


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    print("installing wrk (apt-get install -y wrk) ...", flush=True)
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            ["apt-get", "install", "-y", "wrk"], capture_output=True, timeout=300, check=False
        )
    return shutil.which("wrk")


def ensure_peers() -> dict[str, Path]:
    """npm-installed peers by name; empty when npm or the registry is not there."""
    where = OUT / "npm"
    bins = {"steady": where / "node_modules" / ".bin" / "steady"}
    bins["prism"] = where / "node_modules" / ".bin" / "prism"
    if not all(b.exists() for b in bins.values()) and shutil.which("npm"):
        where.mkdir(parents=True, exist_ok=True)
        print("installing @stdy/cli and @stoplight/prism-cli from npm ...", flush=True)
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "@stdy/cli", "@stoplight/prism-cli"],
                cwd=where,
                capture_output=True,
                timeout=600,
                check=False,
            )
    return {name: path for name, path in bins.items() if path.exists()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(url + "/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
            if r.status_code == 200:
                return True
        time.sleep(0.5)
    return False


@contextlib.contextmanager
def process(command: list[str], url: str, timeout: float) -> Iterator[str | None]:
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            _pinned(SERVER_CPU, command), stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        _PIDS[url.removesuffix("/v1")] = child.pid  # taskset execs: the same process
        try:
            yield url if wait_ready(url, timeout) else None
        finally:
            child.terminate()
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)


# -- wrk ----------------------------------------------------------------------------------------
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    binary: str, url: str, script: str, connections: int = CONNECTIONS, seconds: int = SECONDS
) -> Figure:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        command = [binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
        command += ["--timeout", "10s", "-s", fh.name, url]
        # One second of the same load first, for every server alike: first-request costs (a
        # tokenizer loaded, caches filled, connections opened) are not what the figure measures.
        warm_up = [c if not c.startswith("-d") else "-d1s" for c in command]
        subprocess.run(_pinned(LOAD_CPU, warm_up), capture_output=True, timeout=60, check=False)
        pid = _PIDS.get(url)
        waited = _waiting_seconds(pid) if pid else None
        started = time.monotonic()
        with subprocess.Popen(
            _pinned(LOAD_CPU, command), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        ) as load:
            # wrk's own wait, read while it runs: a stalled load generator stretches the tail too.
            load_waited: float | None = None
            while load.poll() is None and time.monotonic() - started < seconds + 60:
                load_waited = _waiting_seconds(load.pid) or load_waited
                time.sleep(0.1)
            load.kill()
            out = load.communicate()[0]
        after = _waiting_seconds(pid) if pid else None
        took = time.monotonic() - started
        shares = [(after - waited) / took] if after is not None and waited is not None else []
        shares += [load_waited / took] if load_waited is not None else []
        cpu_wait = max(shares) if shares else None
    finally:
        os.unlink(fh.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    if not (rps and p50 and p99):
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return Figure(float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), errors, cpu_wait)


def _lua(method: str, paths: list[str], body: object | None = None) -> str:
    lines = [
        f'wrk.headers["Authorization"] = "Bearer {KEY}"',
        f'wrk.method = "{method}"',
    ]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(body))}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    quoted = ", ".join(json.dumps(p) for p in paths)
    lines += [
        f"local paths = {{{quoted}}}",
        "local i = 0",
        "request = function()",
        "  i = i + 1",
        "  return wrk.format(nil, paths[(i % #paths) + 1])",
        "end",
    ]
    return "\n".join(lines) + "\n"


def scripts(prefix: str, job_id: str) -> dict[str, str]:
    """wrk scripts for the four routes of issue 11 (prefix: "/v1" for ftctl, "" for the peers)."""
    return {
        "list": _lua("GET", [f"{prefix}/fine_tuning/jobs?limit=20"]),
        "get": _lua("GET", [f"{prefix}/fine_tuning/jobs/{job_id}"]),
        "models": _lua("GET", [f"{prefix}/models"]),
        "chat": _lua("POST", [f"{prefix}/chat/completions"], CHAT),
    }


# -- ftctl's mock -------------------------------------------------------------------------------
def populate(url: str, jobs: int) -> tuple[str, float]:
    """Create `jobs` more fine-tuning jobs through the API; (the newest id, seconds it took)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        file_id = http.post(
            "/files", files={"file": ("book.jsonl", BOOK)}, data={"purpose": "fine-tune"}
        ).json()["id"]
        started = time.perf_counter()
        job_id = ""
        for _ in range(jobs):
            r = http.post(
                "/fine_tuning/jobs",
                json={"training_file": file_id, "model": "davinci-002"},
            )
            while r.status_code == 429:  # the active-job limit: the fast clock frees it at once
                time.sleep(0.001)
                r = http.post(
                    "/fine_tuning/jobs",
                    json={"training_file": file_id, "model": "davinci-002"},
                )
            r.raise_for_status()
            job_id = r.json()["id"]
        took = time.perf_counter() - started
        time.sleep(0.5)
        listed = http.get("/fine_tuning/jobs", params={"limit": 1}).json()["data"]
        assert listed and listed[0]["id"] == job_id
        return job_id, took


def ftctl_command(port: int, speed: str) -> list[str]:
    return [
        sys.executable, "-m", "ftctl", "mock", "serve", "--port", str(port),
        "--speed", speed, "-q",
    ]  # fmt: skip


def mix_script(prefix: str, job_ids: list[str]) -> str:
    paths = []
    for job_id in job_ids:
        paths += [
            f"{prefix}/fine_tuning/jobs?limit=20",
            f"{prefix}/fine_tuning/jobs/{job_id}",
            f"{prefix}/fine_tuning/jobs/{job_id}/events?limit=20",
        ]
    return _lua("GET", paths)


# -- in-process cost -----------------------------------------------------------------------------
async def _asgi(app: Any, method: str, path: str, body: bytes = b"", query: bytes = b"") -> bytes:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"authorization", b"Bearer x"), (b"content-type", b"application/json")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    await app(scope, receive, send)
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def _costs(jobs: int, repeat: int) -> dict[str, float]:
    """Microseconds of CPU per request, calling the app directly (no sockets, no load generator),
    with `jobs` jobs stored; also the cost of creating each of them."""
    from ftctl.mock import create_app

    app = create_app(speed=100_000)
    request = httpx.Request(
        "POST",
        "http://x/v1/files",
        files={"file": ("b.jsonl", BOOK)},
        data={"purpose": "fine-tune"},
    )
    raw = request.read()
    scope_type = request.headers["content-type"].encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", b"Bearer x"), (b"content-type", scope_type)]
    scope = {"type": "http", "method": "POST", "path": "/v1/files", "raw_path": b"/v1/files",
             "query_string": b"", "headers": headers, "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}  # fmt: skip
    await app(scope, receive, send)
    file_id = json.loads(sent[1]["body"])["id"]
    create = json.dumps({"training_file": file_id, "model": "davinci-002"}).encode()
    started = time.process_time()
    job_id = ""
    for _ in range(jobs):
        job_id = json.loads(await _asgi(app, "POST", "/v1/fine_tuning/jobs", create))["id"]
        await asyncio.sleep(0.0005)  # the fast clock finishes it: the active limit frees up
    out = {"create": (time.process_time() - started) / jobs * 1e6}
    calls = {
        "list": ("GET", "/v1/fine_tuning/jobs", b"", b"limit=20"),
        "get": ("GET", f"/v1/fine_tuning/jobs/{job_id}", b"", b""),
        "models": ("GET", "/v1/models", b"", b""),
        "events": ("GET", f"/v1/fine_tuning/jobs/{job_id}/events", b"", b"limit=20"),
        "chat": ("POST", "/v1/chat/completions", json.dumps(CHAT).encode(), b""),
    }
    for name, (method, path, body, query) in calls.items():
        await _asgi(app, method, path, body, query)
        started = time.process_time()
        for _ in range(repeat):
            await _asgi(app, method, path, body, query)
        out[name] = (time.process_time() - started) / repeat * 1e6
    return out


def in_process() -> dict[int, dict[str, float]]:
    costs = {jobs: asyncio.run(_costs(jobs, 2000)) for jobs in (20, 500, 2000)}
    names = list(costs[20])
    print("CPU per request, the app called directly (us):")
    print("  jobs  " + "".join(f"{n:>9}" for n in names))
    for jobs, row in costs.items():
        print(f"  {jobs:>5} " + "".join(f"{row[n]:>9.0f}" for n in names))
    return costs


# -- the run ------------------------------------------------------------------------------------
def run() -> bool:
    costs = in_process()
    binary = ensure_wrk()
    if binary is None:
        print("skipped the load runs: wrk is not installed and could not be (apt-get install wrk)")
        return _flat(costs)
    if (os.cpu_count() or 1) < 2:
        print("note: one CPU: server and wrk share it; figures are lower than on two")
    ours: dict[int, dict[str, Figure]] = {}
    mixes: dict[int, Figure] = {}
    peers: dict[str, dict[str, Figure]] = {}
    with contextlib.ExitStack() as stack:
        # The peers start first and wait idle; each route is then measured on ftctl and on
        # them back to back, so a change in the machine's load touches both sides alike.
        origins = _start_peers(stack)
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        url = stack.enter_context(process(ftctl_command(port, "100000"), origin + "/v1", 60))
        if url is None:
            print("ftctl mock did not start")
            return False
        stored = 0
        for jobs in (20, 500, 2000):
            job_id, took = populate(url, jobs - stored)
            stored = jobs
            print(f"ftctl mock: {jobs:,} jobs stored (created in {took:.1f} s)", flush=True)
            ours[jobs] = {}
            for route, script in scripts("/v1", job_id).items():
                ours[jobs][route] = wrk(binary, origin, script)
                print(f"  ftctl {jobs:>5} jobs  {LABELS[route]:<32} {ours[jobs][route].cell()}")
                for name, peer in origins.items() if jobs == 20 else ():
                    figure = wrk(binary, peer, scripts("", "ftjob-abc123")[route])
                    peers.setdefault(name, {})[route] = figure
                    print(f"  {name:<17} {LABELS[route]:<32} {figure.cell()}", flush=True)
        recent = [
            j["id"]
            for j in httpx.get(
                url + "/fine_tuning/jobs",
                params={"limit": 10},
                headers={"Authorization": f"Bearer {KEY}"},
            ).json()["data"]
        ]
        for clients in (50, 200):
            mixes[clients] = wrk(binary, origin, mix_script("/v1", recent), clients)
            print(f"  list/get/events mix, {clients} clients: {mixes[clients].cell()}")
    return report(ours, mixes, peers) and _flat(costs)


def _start_peers(stack: contextlib.ExitStack) -> dict[str, str]:
    """Prism and Steady serving SPEC, by name -> origin; those that cannot run are skipped."""
    found = ensure_peers()
    origins: dict[str, str] = {}
    for name in ("prism", "steady"):
        if name not in found:
            print(f"skipped {name}: npm could not install it")
            continue
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        if name == "prism":
            command = [str(found[name]), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)]
        else:
            command = [str(found[name]), "-q", "--host", "127.0.0.1", "-p", str(port), str(SPEC)]
        if stack.enter_context(process(command, origin, 300)) is None:
            print(f"skipped {name}: it did not start within 300 s")
            continue
        origins[name] = origin
    return origins


def _flat(costs: dict[int, dict[str, float]]) -> bool:
    """Each request's CPU cost with 2,000 jobs stored within 25% of its cost with 20."""
    met = True
    for name in [n for n in costs[20] if n != "create"]:  # the first create loads a tokenizer
        ratio = costs[2000][name] / costs[20][name]
        ok = ratio <= 1.25
        met = met and ok
        print(f"  [{'met' if ok else 'MISSED'}] {name}: 2,000 jobs cost {ratio:.2f}x of 20 (CPU)")
    return met


def report(
    ours: dict[int, dict[str, Figure]],
    mixes: dict[int, Figure],
    peers: dict[str, dict[str, Figure]],
) -> bool:
    print(f"\nSpec mocks serve {SPEC.name}; {SECONDS} s per figure, {CONNECTIONS} connections.")
    header = "| route | ftctl 20 jobs | ftctl 500 | ftctl 2,000 |"
    header += "".join(f" {name} |" for name in peers)
    print(header)
    print("|---" * (4 + len(peers)) + "|")
    for route in ROUTES:
        cells = [f"{ours[n][route].rps:,.0f} (p99 {ours[n][route].p99_ms:.0f} ms)" for n in ours]
        for figures in peers.values():
            ratio = ours[20][route].rps / figures[route].rps if figures[route].rps else 0
            cells.append(f"{figures[route].rps:,.0f} (ftctl@20 = {ratio:.2f}x)")
        print(f"| {LABELS[route]} | " + " | ".join(cells) + " |")
    for clients, figure in mixes.items():
        print(f"list/get/events mix at {clients} clients (2,000 jobs): {figure.cell()}")
    met = True

    def check(ok: bool, text: str) -> None:
        nonlocal met
        met = met and ok
        print(f"  [{'met' if ok else 'MISSED'}] {text}")

    flat = ours[500]["list"].rps / ours[20]["list"].rps
    check(flat >= 0.8, f"listing with 500 jobs at {flat:.2f}x listing with 20 (target >= 0.80)")
    for route in ROUTES:
        p99 = ours[2000][route].p99_ms
        check(p99 < 50, f"{LABELS[route]} p99 {p99:.1f} ms with 2,000 jobs (target < 50 ms)")
    errors = sum(f.errors for figures in ours.values() for f in figures.values())
    check(errors == 0, f"{errors} errors across ftctl's runs")
    noisy = [f for figures in ours.values() for f in figures.values()]
    noisy = [f for f in noisy if f.cpu_wait is not None and f.cpu_wait >= NOISY_WAIT]
    if noisy:
        print(f"  (note: {len(noisy)} of ftctl's figures were taken while another process held the")
        print("   server's or wrk's CPU: their p99 says more about the machine than the server)")
    if "steady" in peers:
        steady = peers["steady"]
        share = ours[20]["list"].rps / steady["list"].rps
        check(share >= 0.5, f"listing at {share:.2f}x Steady's req/s (target >= 0.50)")
        chat = ours[20]["chat"].rps / steady["chat"].rps
        check(chat > 1.0, f"chat at {chat:.2f}x Steady's req/s (target > 1.00)")
    else:
        print("  (Steady not measured: its targets are not checked)")
    return met
