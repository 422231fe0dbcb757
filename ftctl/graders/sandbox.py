"""Running a python grader's `grade(sample, item)` in a separate, limited process.

Never in the calling process: the source is user code. The child is a fresh `python -I -B` with
an empty environment (no API key reaches it), a scratch working directory, and limits it sets on
itself before it reads the source: address space (memory), CPU seconds, file size, open files,
no core dumps. The parent waits at most `timeout` seconds of wall time, then kills the child's
whole process group. Where the kernel lets an unprivileged process make namespaces (util-linux
`unshare`), the child also runs in new user, PID and network namespaces: it cannot see or signal
the server's processes and has no network, as on the service. The result comes back through a
file capped by the file-size limit, so no output of the child can fill the server's memory.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 10.0  # seconds of wall time
DEFAULT_MEMORY_MB = 512
RESULT_LIMIT = 1 << 20  # bytes the child may write to any file, its result included

# The child: limit itself, read the job from stdin, run grade(), write the outcome as JSON.
_CHILD = r"""
import json, os, resource, sys, traceback
limits = json.loads(sys.argv[1])
memory = limits["memory"]
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu"], limits["cpu"] + 1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
job = json.loads(sys.stdin.read())
result_path = limits["result"]
def finish(outcome):
    with open(result_path, "w", encoding="utf-8") as out:
        out.write(json.dumps(outcome))
    os._exit(0)
try:
    namespace = {"__name__": "grader"}
    exec(compile(job["source"], "grader.py", "exec"), namespace)
    grade = namespace.get("grade")
    if not callable(grade):
        finish({"error": "the source defines no function grade(sample, item)"})
    value = grade(job["sample"], job["item"])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        finish({"error": "grade() returned %s, not a number" % type(value).__name__})
    finish({"score": float(value)})
except MemoryError:
    finish({"error": "MemoryError: the grader went over its memory limit"})
except BaseException as error:
    lines = traceback.format_exception_only(type(error), error)
    finish({"error": "".join(lines).strip()[-2000:]})
"""


@dataclass(frozen=True)
class PythonOutcome:
    """A finished run: `score`, or `error` (what went wrong in the grader's own code), or
    `server_error` (the sandbox itself failed: timeout or a killed process)."""

    score: float | None = None
    error: str | None = None
    server_error: str | None = None
    seconds: float = 0.0


@cache
def _namespace_prefix() -> tuple[str, ...]:
    """`unshare` arguments when this kernel allows new user/PID/network namespaces, else ()."""
    tool = shutil.which("unshare")
    if tool is None or not sys.platform.startswith("linux"):
        return ()
    prefix = (tool, "--user", "--map-root-user", "--pid", "--net", "--fork", "--kill-child")
    try:
        probe = subprocess.run(
            [*prefix, "true"], capture_output=True, timeout=5, check=False, env={}
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return prefix if probe.returncode == 0 else ()


def isolated() -> bool:
    """True when python graders run in their own namespaces (see the module doc)."""
    return bool(_namespace_prefix())


def run_python_grader(
    source: str,
    sample: dict[str, Any],
    item: dict[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> PythonOutcome:
    """Run `grade(sample, item)` from `source` in a limited child process."""
    started = time.perf_counter()
    job = json.dumps({"source": source, "sample": sample, "item": item})
    with tempfile.TemporaryDirectory(prefix="ftctl-grader-") as scratch:
        result = Path(scratch) / "result.json"
        limits = {
            "memory": memory_mb * 1024 * 1024,
            "cpu": max(1, math.ceil(timeout)),
            "fsize": RESULT_LIMIT,
            "result": str(result),
        }
        command = [
            *_namespace_prefix(),
            sys.executable,
            "-I",
            "-B",
            "-c",
            _CHILD,
            json.dumps(limits),
        ]
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=scratch,
            env={"LANG": "C.UTF-8"},
            start_new_session=True,
        )
        timed_out = False
        try:
            process.communicate(job.encode("utf-8"), timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process)
        seconds = time.perf_counter() - started
        if timed_out:
            return PythonOutcome(
                error=f"the grader ran longer than {timeout:g} s and was stopped",
                server_error="timeout",
                seconds=seconds,
            )
        return _read_outcome(result, process.returncode, seconds)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill what is left of the child's process group (it may have forked), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read_outcome(result: Path, returncode: int | None, seconds: float) -> PythonOutcome:
    try:
        text = result.read_text(encoding="utf-8")
        outcome = json.loads(text)
    except (OSError, ValueError):
        how = _signal_name(returncode)
        return PythonOutcome(
            error=f"the grader process ended without a result ({how})",
            server_error="process_died",
            seconds=seconds,
        )
    if not isinstance(outcome, dict):
        return PythonOutcome(error="the grader wrote a malformed result", seconds=seconds)
    score = outcome.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        if math.isnan(score) or math.isinf(score):
            return PythonOutcome(error=f"grade() returned {score}", seconds=seconds)
        return PythonOutcome(score=float(score), seconds=seconds)
    return PythonOutcome(error=str(outcome.get("error", "no score")), seconds=seconds)


def _signal_name(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"
