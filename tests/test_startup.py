"""Start-up: `--help` and usage errors stay off the heavy imports (openai, pydantic, httpx), and
skipping needless coercion changes nothing a user can see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import RunCli, every_command

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("openai", "pydantic", "httpx")


def _modules_loaded_by(argv: list[str]) -> tuple[int, set[str]]:
    code = (
        "import sys, json\n"
        f"sys.argv = ['ftctl', *{argv!r}]\n"
        "from ftctl.cli.app import main\n"
        "code = 0\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code or 0\n"
        "sys.__stdout__.write('\\n' + json.dumps([code, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-test", "NO_COLOR": "1"},
        check=False,
    )
    exit_code, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    heavy = {m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY}
    return exit_code, heavy


@pytest.mark.parametrize("command", every_command(), ids=lambda c: " ".join(c) or "ftctl")
def test_help_loads_no_heavy_module(command: list[str]) -> None:
    exit_code, heavy = _modules_loaded_by([*command, "--help"])
    assert exit_code == 0
    assert heavy == set(), f"`ftctl {' '.join(command)} --help` imported {heavy}"


@pytest.mark.parametrize("argv", [["get"], ["list", "--limit", "0"], ["create"]])
def test_a_usage_error_loads_no_heavy_module(argv: list[str]) -> None:
    exit_code, heavy = _modules_loaded_by(argv)
    assert exit_code == 2
    assert heavy == set(), f"`ftctl {' '.join(argv)}` imported {heavy}"


def test_defaults_and_bounds_behave_as_before(run_cli: RunCli) -> None:
    low = run_cli("list", "--limit", "0")
    assert low.exit_code == 2 and "--limit" in low.stderr
    word = run_cli("list", "--limit", "abc")
    assert word.exit_code == 2 and "--limit" in word.stderr
    missing = run_cli("get")
    assert missing.exit_code == 2 and "missing job id" in missing.stderr


@pytest.mark.parametrize("value", ["1", "20", "100", "0", "101", "007", "-1", "x", "2.5", " 3"])
def test_the_fast_path_agrees_with_typers_own_coercion(value: str) -> None:
    import typer.main
    from typer import core

    from ftctl.cli.app import app

    fast = core._TyperParameter.process_value
    typers_own = fast.__wrapped__  # type: ignore[attr-defined]
    command = typer.main.get_command(app).commands["list"]  # type: ignore[attr-defined]
    limit = next(p for p in command.params if p.name == "limit")
    ctx = command.make_context("list", [], resilient_parsing=True)

    def outcome(process: object) -> object:
        try:
            return ("ok", process(limit, ctx, value))  # type: ignore[operator]
        except Exception as exc:
            return ("error", type(exc).__name__, str(exc))

    assert outcome(fast) == outcome(typers_own)
