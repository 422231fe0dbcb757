"""Start-up: `--help` and usage errors stay off the heavy imports (openai, pydantic, httpx), and
skipping needless coercion changes nothing a user can see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftctl.cli._lazy import LazyCommands, Listed, build
from ftctl.cli.app import COMMANDS, app
from tests.support.cli import RunCli, every_command

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("openai", "pydantic", "httpx")


def _all_modules_loaded_by(argv: list[str]) -> tuple[int, list[str]]:
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
    return exit_code, modules


def _modules_loaded_by(argv: list[str]) -> tuple[int, set[str]]:
    exit_code, modules = _all_modules_loaded_by(argv)
    heavy = {m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY}
    return exit_code, heavy


def _command_modules(modules: list[str]) -> set[str]:
    return {m for m in modules if m in {entry.module for entry in COMMANDS}}


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


def test_the_root_help_imports_no_command_module() -> None:
    exit_code, modules = _all_modules_loaded_by(["--help"])
    assert exit_code == 0
    assert _command_modules(modules) == set()


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["get"], "ftctl.cli.jobs"),
        (["prepare", "--help"], "ftctl.cli.prepare"),
        (["files", "list", "--help"], "ftctl.cli.files"),
    ],
)
def test_a_command_imports_its_own_module(argv: list[str], module: str) -> None:
    _, modules = _all_modules_loaded_by(argv)
    # create's module is imported by run's, checkpoints' by follow's, and so on; never all.
    assert module in _command_modules(modules)
    assert len(_command_modules(modules)) < len({entry.module for entry in COMMANDS})


def test_the_table_lists_what_each_module_registers_in_order() -> None:
    for module in dict.fromkeys(entry.module for entry in COMMANDS):
        listed = [entry.name for entry in COMMANDS if entry.module == module]
        assert list(build(module)) == listed, module


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda entry: entry.name)
def test_each_summary_is_what_the_command_itself_would_show(entry: Listed) -> None:
    from typer._click.utils import make_default_short_help

    command = build(entry.module)[entry.name]
    for width in (20, 35, 50, 74, 200):
        assert make_default_short_help(entry.summary, width) == command.get_short_help_str(width)


def test_the_root_help_is_the_same_before_and_after_every_command_is_built() -> None:
    import typer.main
    from typer._click import Context

    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert isinstance(commands, LazyCommands)
    ctx = Context(group, info_name="ftctl", terminal_width=80)
    from_the_table = group.get_help(ctx)
    assert not any(commands.is_built(entry.name) for entry in COMMANDS)
    assert len([commands[name] for name in commands]) == len(COMMANDS)
    assert group.get_help(ctx) == from_the_table
    assert "prepare      Check training data before anything is uploaded or paid for." in (
        from_the_table
    )


@pytest.mark.parametrize(
    ("words", "expected"),
    [("ftctl fi", "files"), ("ftctl files l", "list"), ("ftctl list --st", "--status")],
)
def test_shell_completion_sees_every_command(words: str, expected: str) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ftctl"))],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
            "_FTCTL_COMPLETE": "complete_bash",
        },
        check=False,
    )
    assert proc.stdout.split() == [expected], proc.stderr
