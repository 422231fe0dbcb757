"""Python graders run in a separate, limited process: results, timeouts, memory, isolation."""

from __future__ import annotations

import time

import pytest

from ftctl.graders.sandbox import isolated, run_python_grader, run_python_graders

SAMPLE = {"output_text": "Paris", "output_json": None}
ITEM = {"answer": "Paris"}


def grade(body: str) -> str:
    return "def grade(sample, item):\n" + "".join(f"    {line}\n" for line in body.splitlines())


def test_grade_gets_sample_and_item_and_returns_its_score() -> None:
    source = grade("return 1.0 if sample['output_text'] == item['answer'] else 0.25")
    assert run_python_grader(source, SAMPLE, ITEM).score == 1.0
    assert run_python_grader(source, {"output_text": "Lyon"}, ITEM).score == 0.25


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("return item['missing']", "KeyError: 'missing'"),
        ("return 'high'", "grade() returned str, not a number"),
        ("return True", "grade() returned bool, not a number"),
        ("return float('nan')", "grade() returned nan"),
        ("raise SystemExit(3)", "SystemExit: 3"),
    ],
)
def test_errors_in_the_graders_code_are_reported(body: str, error: str) -> None:
    outcome = run_python_grader(grade(body), SAMPLE, ITEM)
    assert outcome.score is None
    assert outcome.server_error is None
    assert outcome.error == error


def test_a_grader_that_runs_too_long_is_stopped_at_the_timeout() -> None:
    started = time.perf_counter()
    outcome = run_python_grader(grade("while True:\n    pass"), SAMPLE, ITEM, timeout=1.0)
    assert time.perf_counter() - started < 3.0
    assert outcome.server_error == "timeout"
    assert outcome.error == "the grader ran longer than 1 s and was stopped"


def test_a_grader_that_sleeps_past_the_timeout_is_stopped_with_its_children() -> None:
    source = "import os, time\n" + grade("if os.fork() == 0:\n    time.sleep(60)\ntime.sleep(60)")
    started = time.perf_counter()
    outcome = run_python_grader(source, SAMPLE, ITEM, timeout=0.5)
    assert time.perf_counter() - started < 3.0
    assert outcome.server_error == "timeout"


def test_a_grader_over_its_memory_limit_fails_without_harm() -> None:
    outcome = run_python_grader(grade("x = bytearray(1024 ** 3)\nreturn 1"), SAMPLE, ITEM)
    assert outcome.score is None
    assert outcome.error is not None
    assert "MemoryError" in outcome.error


def test_the_grader_sees_no_environment_of_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-for-the-test")
    source = "import os\n" + grade("return float('OPENAI_API_KEY' in os.environ)")
    assert run_python_grader(source, SAMPLE, ITEM).score == 0.0


@pytest.mark.skipif(not isolated(), reason="needs unprivileged user/PID namespaces")
def test_with_namespaces_a_grader_cannot_signal_the_process_that_runs_it() -> None:
    # Inside the new PID namespace the parent is invisible (getppid() is 0), so the kill lands
    # in the grader's own namespace, whose init ignores it or dies: either way, not us.
    source = "import os, signal\n" + grade("os.kill(os.getppid(), signal.SIGKILL)\nreturn 1")
    for _ in range(3):
        run_python_grader(source, SAMPLE, ITEM)
    assert run_python_grader(grade("return 0.5"), SAMPLE, ITEM).score == 0.5  # we are still here


@pytest.mark.skipif(not isolated(), reason="needs unprivileged user/network namespaces")
def test_with_namespaces_the_grader_has_no_network() -> None:
    source = "import socket\n" + grade(
        "socket.create_connection(('127.0.0.1', 9), timeout=1)\nreturn 1"
    )
    outcome = run_python_grader(source, SAMPLE, ITEM)
    assert outcome.error is not None
    assert "Network is unreachable" in outcome.error


def test_many_calls_run_in_one_process_each_under_its_own_time_limit() -> None:
    source = "seen = []\n" + grade(
        "seen.append(1)\n"
        "if item.get('hang'):\n"
        "    while True:\n"
        "        pass\n"
        "if item.get('fail'):\n"
        "    raise ValueError('bad item')\n"
        "return float(len(seen))"
    )
    calls = [(SAMPLE, {}), (SAMPLE, {"hang": True}), (SAMPLE, {"fail": True}), (SAMPLE, {})]
    outcomes = run_python_graders(source, calls, timeout=0.5)
    assert outcomes[0].score == 1.0
    assert outcomes[1].server_error == "timeout"
    assert outcomes[2].error == "ValueError: bad item"
    assert outcomes[3].score == 4.0  # the same module: one process made every call


def test_a_source_that_does_not_load_fails_every_call() -> None:
    outcomes = run_python_graders("import no_such_module\n", [(SAMPLE, ITEM)] * 3)
    assert [o.error for o in outcomes] == [
        "ModuleNotFoundError: No module named 'no_such_module'"
    ] * 3


def test_calls_after_the_process_died_are_reported_as_such() -> None:
    source = "import os\n" + grade("if item.get('die'):\n    os._exit(9)\nreturn 1.0")
    outcomes = run_python_graders(source, [(SAMPLE, {}), (SAMPLE, {"die": True}), (SAMPLE, {})])
    assert outcomes[0].score == 1.0
    assert [o.server_error for o in outcomes[1:]] == ["process_died", "process_died"]
