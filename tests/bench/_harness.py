"""Shared bench machinery: run a peer in a subprocess and measure it, throwaway venvs, data dirs.

Each run reports wall time, the peak RSS of the largest process of the peer's process tree (what
`wait4` returns for it, workers included) and the peak of the tree's summed PSS (sampled every
10 ms from /proc: shared pages counted once, so forked workers are not counted twice).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench-out"  # gitignored
PYTHON = sys.executable


@dataclass(frozen=True)
class Run:
    label: str
    wall_s: float
    max_rss_mb: float
    tree_pss_mb: float
    returncode: int
    stdout: str
    stderr: str


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.extend(int(x) for x in fh.read().split())
    except OSError:
        pass
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_pss_kb(root: int) -> int:
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss_kb(pid)
        stack.extend(_children(pid))
    return total


def measure(
    label: str, cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run cmd to completion, sampling its process tree's memory."""
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as out,
        tempfile.TemporaryFile("w+", encoding="utf-8") as err,
    ):
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=err
        )
        peak_pss = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_pss = max(peak_pss, _tree_pss_kb(proc.pid))
            time.sleep(0.01)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            label=label,
            wall_s=wall,
            max_rss_mb=usage.ru_maxrss / 1024,
            tree_pss_mb=peak_pss / 1024,
            returncode=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
        )


def best_of(runs: list[Run]) -> Run:
    """The fastest of repeated runs of one peer, with the highest memory seen in any: on a shared
    machine the fastest run is the one least slowed by other work."""
    fastest = min(runs, key=lambda r: r.wall_s)
    return Run(
        label=f"{fastest.label} (best of {len(runs)})" if len(runs) > 1 else fastest.label,
        wall_s=fastest.wall_s,
        max_rss_mb=max(r.max_rss_mb for r in runs),
        tree_pss_mb=max(r.tree_pss_mb for r in runs),
        returncode=max(r.returncode for r in runs),
        stdout=fastest.stdout,
        stderr=fastest.stderr,
    )


def venv(name: str, requirements: list[str]) -> Path:
    """A throwaway virtualenv under bench-out/ with requirements installed; its bin dir."""
    where = OUT / "venvs" / name
    stamp = where / ".installed"
    wanted = "\n".join(requirements)
    if stamp.exists() and stamp.read_text() == wanted:
        return where / "bin"
    print(f"bench: creating {where} ({', '.join(requirements)}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(where)], check=True)
    subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements],
        check=True,
    )
    stamp.write_text(wanted)
    return where / "bin"


def data_dir(name: str) -> Path:
    path = OUT / "data" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def fresh_dir(name: str) -> Path:
    """An empty directory under bench-out/runs/ (emptied if it exists)."""
    import shutil

    path = OUT / "runs" / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def table(rows: list[Run]) -> str:
    lines = [f"  {'peer':<44} {'wall s':>8} {'max RSS MB':>11} {'tree PSS MB':>12}"]
    for r in rows:
        lines.append(
            f"  {r.label:<44} {r.wall_s:>8.2f} {r.max_rss_mb:>11.1f} {r.tree_pss_mb:>12.1f}"
        )
    return "\n".join(lines)


def check(name: str, ok: bool, detail: str) -> bool:
    print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    return ok
