"""Commands loaded when they are used: `ftctl get` imports and builds the jobs commands only.

Typer turns every registered function into a Click command up front, evaluating each parameter's
annotations; for twenty commands that costs more than Python's own start-up. Here the root group
knows each command's name, module and one-line summary from a table (`Listed`), so the root
`--help` prints without importing any command module, and a command is built the first time
something asks for it (parsing, `--help`, completion, the docs generator). The summaries are
checked against the commands themselves by a test.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.main
from typer._click import Command, Context, HelpFormatter
from typer._click.utils import make_default_short_help
from typer.core import TyperGroup

from ftctl.cli import _examples


@dataclass(frozen=True)
class Listed:
    """One command of the root group: its name, the module whose `register(app)` adds it, and
    the first sentence of its help (what `ftctl --help` shows, shortened to fit)."""

    name: str
    module: str
    summary: str


def build(module_name: str) -> dict[str, Command]:
    """The Click commands one command module registers, with their examples applied."""
    holder = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    importlib.import_module(module_name).register(holder)
    _examples.apply(holder)
    return dict(typer.main.get_group(holder).commands)


class LazyCommands(MutableMapping[str, Command]):
    """A group's commands by name: the names come from the table, each module is built on first
    access and kept. Iteration is the table's order, so listings stay as written."""

    def __init__(self, listed: tuple[Listed, ...], built: Mapping[str, Command]) -> None:
        self._module = {entry.name: entry.module for entry in listed}
        self._built: dict[str, Command] = dict(built)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            self._built.update(build(self._module[name]))  # KeyError: no such command
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._built.pop(name)
        self._module.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._module
        yield from (name for name in self._built if name not in self._module)

    def __len__(self) -> int:
        return len(self._module.keys() | self._built.keys())

    def is_built(self, name: str) -> bool:
        return name in self._built


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands come from `listed`, built on use."""

    listed: ClassVar[tuple[Listed, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.listed, self.commands)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # TyperGroup's reads the values, which would build them all

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        # TyperGroup's version asks every command for its short help, which builds them all.
        commands = self.commands
        assert isinstance(commands, LazyCommands)
        summaries = {entry.name: entry.summary for entry in self.listed}
        names = [
            name
            for name in self.list_commands(ctx)
            if not (commands.is_built(name) and commands[name].hidden)
        ]
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (
                name,
                commands[name].get_short_help_str(limit)
                if commands.is_built(name) or name not in summaries
                else make_default_short_help(summaries[name], limit),
            )
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
