"""Start-up cost: keep pydantic off the paths that need no type coercion.

Typer 0.29 coerces every parameter it processes through a pydantic TypeAdapter, built on first use,
even when the parameter has no value or holds its own typed default. Building the first adapter
imports pydantic (about 0.1 s), so `ftctl prepare --help` (the root options are processed before
the subcommand sees `--help`) and a usage error such as `ftctl get` with no id paid for it. Values
that need no coercion are passed through here: no value at all, a string for a plain `str`
parameter, and a default already of its parameter's type (defaults are ours, not the user's).
A plain decimal integer is converted and bounds-checked here too, with Typer's own messages.
Everything else goes through Typer's coercion, unchanged.
"""

from __future__ import annotations

import types
import typing
from typing import Any

_PLAIN = (str, int, float)


def _plain_type(annotation: Any) -> type | None:
    """`str`, `int` or `float`, also when written `X | None`; None for anything else."""
    if annotation in _PLAIN:
        return typing.cast(type, annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and args[0] in _PLAIN:
            return typing.cast(type, args[0])
    return None


_NO_COERCION = object()


def _simple_value(param: Any, value: Any) -> Any:
    """The value Typer's coercion would give, when that is certain without it; else _NO_COERCION."""
    if param.multiple or param.nargs != 1:
        return () if value in (None, ()) else _NO_COERCION
    if value is None:
        return None
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    plain = _plain_type(getattr(descriptor, "annotation", None))
    if plain is None:
        return _NO_COERCION
    if type(value) is plain:
        # A str is what the command line gives: a plain `str` needs nothing more. An int or
        # float came from a default (the command line gives strings), which bounds need not check.
        return value
    if plain is int and isinstance(value, str) and value.isdecimal() and value.isascii():
        number = int(value)
        low, high = getattr(info, "min", None), getattr(info, "max", None)
        if low is not None and number < low:
            raise _bad(f"Input should be greater than or equal to {low}")
        if high is not None and number > high:
            raise _bad(f"Input should be less than or equal to {high}")
        return number
    return _NO_COERCION


class _OutOfBounds(Exception):
    """An integer outside its option's bounds; becomes Typer's own BadParameter message."""


def _bad(message: str) -> _OutOfBounds:
    return _OutOfBounds(message)


def skip_needless_coercion() -> None:
    """Install the pass-through on Typer's parameter class (once; a no-op if Typer changed)."""
    from typer import core

    parameter_class = getattr(core, "_TyperParameter", None)
    original = getattr(parameter_class, "process_value", None)
    if parameter_class is None or original is None or getattr(original, "_ftctl", False):
        return

    def process_value(self: Any, ctx: Any, value: Any) -> Any:
        try:
            simple = _simple_value(self, value)
        except _OutOfBounds as exc:
            import typer

            raise typer.BadParameter(str(exc), ctx=ctx, param=self) from None
        if simple is _NO_COERCION:
            return original(self, ctx, value)
        value = simple
        if self.required and self.value_is_missing(value):
            from typer._click.exceptions import MissingParameter

            raise MissingParameter(ctx=ctx, param=self)
        if self.callback is not None:
            value = self.callback(ctx, self, value)
        return value

    process_value._ftctl = True  # type: ignore[attr-defined]
    process_value.__wrapped__ = original  # type: ignore[attr-defined]
    parameter_class.process_value = process_value
