"""Every --help ends with examples that name real commands; -h is --help; shell completion."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from ftctl.cli import _examples
from ftctl.cli.app import app


def _paths() -> list[str]:
    group = typer.main.get_command(app)
    found = [""]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        found.append(name)
        found.extend(f"{name} {sub}" for sub in getattr(command, "commands", {}))
    return found


@pytest.mark.parametrize("path", _paths(), ids=lambda p: p or "ftctl")
def test_every_help_ends_with_examples(path: str) -> None:
    args = path.split() if path else []
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    tail = result.stdout.rstrip().splitlines()
    examples = tail[tail.index("  Examples:") + 1 :]
    assert 1 <= len(examples) <= 2
    for line in examples:
        assert line.startswith(f"    $ ftctl {path}".rstrip()) or "ftctl" in line
    short = CliRunner().invoke(app, [*args, "-h"], env={"COLUMNS": "100"})
    assert short.stdout == result.stdout


def test_examples_name_only_commands_that_exist() -> None:
    paths = set(_paths())
    assert set(_examples.EXAMPLES) <= paths
    assert paths <= set(_examples.EXAMPLES), "a command without examples"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    from typer._completion_shared import get_completion_script

    script = get_completion_script(prog_name="ftctl", complete_var="_FTCTL_COMPLETE", shell=shell)
    assert f"_FTCTL_COMPLETE=complete_{shell}" in script


@pytest.mark.parametrize(
    ("shell", "env"),
    [
        ("bash", {"COMP_WORDS": "ftctl files do", "COMP_CWORD": "2"}),
        ("zsh", {"_TYPER_COMPLETE_ARGS": "ftctl files do"}),
        (
            "fish",
            {"_TYPER_COMPLETE_ARGS": "ftctl files do", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
        ),
    ],
)
def test_completion_answers_in_every_shell(shell: str, env: dict[str, str]) -> None:
    """What the installed script asks ftctl at each <Tab>: the subcommands of `files`."""
    result = CliRunner().invoke(
        app, [], env={"_FTCTL_COMPLETE": f"complete_{shell}", **env}, prog_name="ftctl"
    )
    assert "download" in result.stdout
    assert "prune" not in result.stdout
