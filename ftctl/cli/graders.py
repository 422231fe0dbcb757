"""`ftctl graders validate|run`: ask the service to check a grader, or to grade one sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ftctl.cli import _output
from ftctl.cli._context import current
from ftctl.cli._options import JsonFlag
from ftctl.errors import FtctlError, UsageError

app = typer.Typer(
    help="Check a grader with the service, or run it on one item and model sample.",
    no_args_is_help=True,
)

GraderFile = Annotated[
    str,
    typer.Argument(
        metavar="FILE",
        help='A JSON grader object (or a body holding one as {"grader": ...}).',
        show_default=False,
    ),
]


def _load_grader(path: str) -> dict[str, Any]:
    from ftctl.service.graders import load_grader

    return load_grader(Path(path))


def _value(raw: str, flag: str) -> tuple[str, str]:
    """(text, where it came from): `@path` reads a file, anything else is the text itself."""
    from ftctl.service.graders import read_text

    if raw.startswith("@"):
        if raw == "@":
            hint = f"write the path after @: {flag} @FILE"
            raise UsageError(f"{flag} @ names no file", hint=hint)
        path = Path(raw[1:])
        return read_text(path), str(path)
    return raw, flag


@app.command()
def validate(file: GraderFile, as_json: JsonFlag = False) -> None:
    """Ask the service whether a grader is valid.

    Exit 0 when it is; 1 with the service's message (naming the field) when it is not; 2 when
    the file is not a JSON grader object.
    """
    from ftctl.service.graders import GradersService

    grader = _load_grader(file)
    result = GradersService(current().client()).validate(grader)

    def render(result: dict[str, Any]) -> None:
        checked = result.get("grader") or grader
        _output.echo(f"valid: {checked.get('type', '?')} grader {checked.get('name', '')!r}")

    _output.show(result, as_json, render)


@app.command()
def run(
    file: GraderFile,
    sample: Annotated[
        str,
        typer.Option(
            "--sample",
            metavar="TEXT|@FILE",
            help="The model's answer, {{sample.output_text}} (and output_json when it is JSON); "
            "@file reads it from a file, less one final newline.",
            show_default=False,
        ),
    ],
    item: Annotated[
        str | None,
        typer.Option(
            "--item",
            metavar="JSON|@FILE",
            help="The dataset item the grader reads as {{item.*}}: a JSON object, or @file.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Grade one model sample: print the reward and each sub-grader's reward.

    Exit 0 when the grader ran; 1 when the service refused it or reported an error while
    grading (the reward is still printed); 2 for a file or --item that is not JSON.
    """
    from ftctl.service.graders import GradersService, error_flags, load_json_object

    grader = _load_grader(file)
    item_object: dict[str, Any] | None = None
    if item is not None:
        text, where = _value(item, "--item")
        item_object = load_json_object(text, where, "the item")
    sample_text, where = _value(sample, "--sample")
    if where != "--sample" and sample_text.endswith("\n"):
        sample_text = sample_text[:-1]  # the newline an editor or `echo` adds
    result = GradersService(current().client()).run(
        grader, model_sample=sample_text, item=item_object
    )
    _output.show(result, as_json, _render_run)
    flags = error_flags(result)
    if flags:
        raise FtctlError(
            f"the grader reported {', '.join(flags)}{_details(result)}", hint=_hint(flags)
        )


def _hint(flags: list[str]) -> str | None:
    if "sample_parse_error" in flags:
        return "the grader reads {{sample.output_json...}}: give --sample as JSON"
    if "invalid_variable_error" in flags:
        return "give --item every {{item.*}} field the grader reads (--sample JSON for output_json)"
    if any(flag.startswith("python_grader") for flag in flags):
        return "fix the grader's source, then run it again"
    if "formula_parse_error" in flags:
        return "fix calculate_output: `ftctl graders validate FILE` says what is wrong"
    return None


def _details(result: dict[str, Any]) -> str:
    errors = result.get("metadata", {}).get("errors") or {}
    details = [
        str(errors[key])
        for key in (
            "python_grader_server_error_type",
            "python_grader_runtime_error_details",
            "model_grader_server_error_details",
        )
        if errors.get(key)
    ]
    return f": {'; '.join(details)}" if details else ""


def _number(value: object) -> str:
    """A reward to 6 significant digits, always with a decimal point: 1.0, 0.454545."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    text = f"{value:.6g}"
    return text if any(c in text for c in ".einf") else f"{text}.0"


def _render_run(result: dict[str, Any]) -> None:
    _output.echo(f"reward: {_number(result.get('reward'))}")
    sub_rewards = result.get("sub_rewards") or {}
    width = max((len(str(name)) for name in sub_rewards), default=0)
    for name, reward in sub_rewards.items():
        _output.echo(f"  {str(name).ljust(width)}  {_number(reward)}")
    usage = result.get("model_grader_token_usage_per_model") or {}
    for model, counts in usage.items():
        total = counts.get("total_tokens") if isinstance(counts, dict) else counts
        _output.note(f"grader model {model}: {total} tokens")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="graders")
