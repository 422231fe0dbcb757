"""Running a python grader's `grade(sample, item)` in a separate, limited process.

`run_python_grader` makes one call; `run_python_graders` makes many in one process (a
reinforcement job grades many samples: one start-up instead of one per sample), each call under
its own time limit.

Never in the calling process: the source is user code. The child is a fresh `python -I -B` with
an empty environment (no API key reaches it), a scratch working directory, and limits it sets on
itself before it reads the source: address space (memory), CPU seconds, file size, open files,
no core dumps. Each call has `timeout` seconds (an alarm in the child); the parent waits for the
calls' total plus a start-up margin, then kills the child's whole process group. Where the
kernel lets an unprivileged process make namespaces (util-linux `unshare`), the child also runs
in new user, PID and network namespaces: it cannot see or signal the server's processes and has
no network, as on the service. (It still acts on files as the user running the server does:
this is a mock's sandbox, not a jail.) Results come back through a file capped by the file-size
limit, so no output of the child can fill the server's memory.
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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 10.0  # seconds of wall time
DEFAULT_MEMORY_MB = 512
RESULT_LIMIT = 1 << 20  # bytes the child may write to any file, its result included
_RESULT_PER_CALL = 4096  # more room per call of a batch (an error detail is at most 2,000)
_START_MARGIN = 2.0  # seconds for the child to start, beyond the calls' own time

# The child: limit itself, read the job from stdin, define grade(), then call it once per
# (sample, item), each call under its own alarm, writing one JSON outcome per line as it goes
# (so a child killed half-way still reports the calls it finished).
_CHILD = r"""
import json, os, resource, signal, sys, traceback
limits = json.loads(sys.argv[1])
memory = limits["memory"]
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu"], limits["cpu"] + 1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
job = json.loads(sys.stdin.read())
out = open(limits["result"], "w", encoding="utf-8")
def record(outcome):
    out.write(json.dumps(outcome) + "\n")
    out.flush()
def describe(error):
    if isinstance(error, MemoryError):
        return "MemoryError: the grader went over its memory limit"
    lines = traceback.format_exception_only(type(error), error)
    return "".join(lines).strip()[-2000:]
class Overtime(BaseException):
    pass
def on_alarm(signum, frame):
    raise Overtime()
signal.signal(signal.SIGALRM, on_alarm)
try:
    namespace = {"__name__": "grader"}
    exec(compile(job["source"], "grader.py", "exec"), namespace)
    grade = namespace.get("grade")
    if not callable(grade):
        raise NameError("the source defines no function grade(sample, item)")
except BaseException as error:
    record({"error": describe(error), "all": True})
    os._exit(0)
for call in job["calls"]:
    try:
        signal.setitimer(signal.ITIMER_REAL, limits["per_call"])
        value = grade(call["sample"], call["item"])
        signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            record({"error": "grade() returned %s, not a number" % type(value).__name__})
        else:
            record({"score": float(value)})
    except Overtime:
        record({"timeout": True})
    except BaseException as error:
        signal.setitimer(signal.ITIMER_REAL, 0)
        record({"error": describe(error)})
os._exit(0)
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
    return run_python_graders(source, [(sample, item)], timeout=timeout, memory_mb=memory_mb)[0]


def run_python_graders(
    source: str,
    calls: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> list[PythonOutcome]:
    """`grade(sample, item)` for each (sample, item), in one limited child process.

    `timeout` applies to each call (an alarm in the child) and the memory limit to the whole
    child. The calls share the grader's module, as consecutive calls of one process would.
    """
    if not calls:
        return []
    started = time.perf_counter()
    job = json.dumps({"source": source, "calls": [{"sample": s, "item": i} for s, i in calls]})
    wall = timeout * len(calls) + _START_MARGIN
    with tempfile.TemporaryDirectory(prefix="ftctl-grader-") as scratch:
        result = Path(scratch) / "result.jsonl"
        limits = {
            "memory": memory_mb * 1024 * 1024,
            "cpu": max(1, math.ceil(wall)),
            "fsize": RESULT_LIMIT + _RESULT_PER_CALL * len(calls),
            "result": str(result),
            "per_call": timeout,
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
            process.communicate(job.encode("utf-8"), timeout=wall)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process)
        seconds = (time.perf_counter() - started) / len(calls)
        lines = _result_lines(result)
        outcomes = [_outcome(line, timeout, seconds) for line in lines[: len(calls)]]
        if lines and lines[0].get("all"):
            return [_outcome(lines[0], timeout, seconds)] * len(calls)
        if timed_out:
            missing = PythonOutcome(
                error=f"the grader ran longer than {timeout:g} s and was stopped",
                server_error="timeout",
                seconds=seconds,
            )
        else:
            missing = PythonOutcome(
                error=f"the grader process ended without a result "
                f"({_signal_name(process.returncode)})",
                server_error="process_died",
                seconds=seconds,
            )
        return outcomes + [missing] * (len(calls) - len(outcomes))


def _result_lines(result: Path) -> list[dict[str, Any]]:
    """The child's outcomes, one JSON object a line; a torn or foreign last line is dropped."""
    try:
        text = result.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            break
        if not isinstance(value, dict):
            break
        lines.append(value)
    return lines


def _outcome(line: dict[str, Any], timeout: float, seconds: float) -> PythonOutcome:
    if line.get("timeout") is True:
        return PythonOutcome(
            error=f"the grader ran longer than {timeout:g} s and was stopped",
            server_error="timeout",
            seconds=seconds,
        )
    score = line.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        if math.isnan(score) or math.isinf(score):
            return PythonOutcome(error=f"grade() returned {score}", seconds=seconds)
        return PythonOutcome(score=float(score), seconds=seconds)
    return PythonOutcome(error=str(line.get("error", "no score")), seconds=seconds)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill what is left of the child's process group (it may have forked), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _signal_name(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"
