"""`ftctl run`: the walkthrough in one command. prepare (as `-q`), create, follow, then ask the
tuned model one prompt from the data and print its answer beside the expected completion.

Each step is the command itself, called as the user would call it (`prepare` and `create` are
invoked through their Click commands, `follow` and `complete` through the functions those commands
use), so `run` behaves exactly like the four commands typed one after the other. It stops at the
first step that fails, says which, and exits with that step's code.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.exceptions import TyperException

from ftctl.cli import _output
from ftctl.cli._context import current
from ftctl.cli._following import PollInterval, jobs_service
from ftctl.cli._options import YesFlag
from ftctl.cli.follow import follow_job
from ftctl.errors import FtctlError, InputError
from ftctl.exit_codes import ExitCode

T = TypeVar("T")

STEPS = ("prepare", "create", "follow", "complete")
SAMPLE_MAX_TOKENS = 64
_MAX_PROBLEMS = 10


class StepFailed(FtctlError):
    """A step of `run` failed; carries that step's exit code."""

    def __init__(self, step: str, message: str, exit_code: int, hint: str | None) -> None:
        number = STEPS.index(step) + 1
        super().__init__(f"run stopped at step {number}/4 ({step}): {message}", hint=hint)
        self.exit_code = ExitCode(exit_code) if exit_code in set(ExitCode) else ExitCode.ERROR


@dataclass(frozen=True)
class Sample:
    prompt: str
    expected: str
    stop: str | None  # the completions' common ending, which prepare advises as the stop
    system: str | None = None


def _step(name: str, action: Callable[[], T]) -> T:
    """Run one step; any failure becomes a StepFailed naming it, with its exit code."""
    from ftctl.cli._errors import describe

    _output.note(f"== run {STEPS.index(name) + 1}/4: {name}")
    try:
        return action()
    except typer.Exit as stop:
        if stop.exit_code == 0:
            _output.note(f"run stopped after step {name}: nothing more to do")
            raise
        raise StepFailed(name, f"exit {stop.exit_code}", stop.exit_code, None) from None
    except (TyperException, KeyboardInterrupt):  # bad flags: the command's own usage error
        raise
    except Exception as exc:
        message, hint, code = describe(exc)
        raise StepFailed(name, message, code, hint) from exc


@contextlib.contextmanager
def _captured() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


def _command(ctx: typer.Context, command: str, args: list[str]) -> Any:
    """`ftctl COMMAND ARGS...` parsed (a bad flag fails here, before anything runs)."""
    root = ctx.find_root()
    cmd = root.command.get_command(root, command)  # type: ignore[attr-defined]
    if cmd is None:
        raise AssertionError(f"no command {command}")
    return cmd, cmd.make_context(command, args, parent=root)


def _invoke(ctx: typer.Context, command: str, args: list[str]) -> str:
    """Run `ftctl COMMAND ARGS...` inside this invocation; return what it printed on stdout.
    When it fails, the problems listed in its JSON report are shown first."""
    cmd, sub = _command(ctx, command, args)
    with _captured() as out:
        try:
            with sub:
                cmd.invoke(sub)
        except (Exception, typer.Exit):
            _show_problems(out.getvalue())
            raise
    return out.getvalue()


def _show_problems(report: str) -> None:
    try:
        problems = json.loads(report).get("problems") or []
    except (ValueError, AttributeError):
        return
    for problem in problems[:_MAX_PROBLEMS]:
        _output.note(str(problem))
    if len(problems) > _MAX_PROBLEMS:
        _output.note(f"... and {len(problems) - _MAX_PROBLEMS} more")


def common_ending(texts: list[str]) -> str:
    """The longest ending every text shares."""
    ending = texts[0] if texts else ""
    for text in texts[1:]:
        while not text.endswith(ending):
            ending = ending[1:]
    return ending


def read_sample(path: Path, chosen: str | None) -> Sample:
    """The first example of the prepared data (or `chosen`, ending with the data's separator),
    and the stop sequence the data's completions share."""
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as exc:
                    raise InputError(path, f"not JSON: {exc}", line=number) from None
    if not records:
        raise InputError(path, "no examples")
    if "messages" in records[0]:
        return _chat_sample(records, chosen)
    prompts = [str(r.get("prompt", "")) for r in records]
    completions = [str(r.get("completion", "")) for r in records]
    separator = common_ending(prompts) if len(prompts) > 1 else ""
    stop = common_ending(completions) if len(completions) > 1 else ""
    if chosen is None:
        return Sample(prompts[0], completions[0], stop or None)
    prompt = chosen if not separator or chosen.endswith(separator) else chosen + separator
    expected = next((c for p, c in zip(prompts, completions, strict=True) if p == prompt), "")
    return Sample(prompt, expected, stop or None)


def _chat_sample(records: list[dict[str, Any]], chosen: str | None) -> Sample:
    def parts(record: dict[str, Any]) -> tuple[str | None, str, str]:
        messages = record.get("messages") or []
        system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        answers = [str(m.get("content", "")) for m in messages if m.get("role") == "assistant"]
        return system, users[-1] if users else "", answers[-1] if answers else ""

    examples = [parts(record) for record in records]
    if chosen is None:
        system, prompt, expected = examples[0]
        return Sample(prompt, expected, None, system)
    match = next((e for e in examples if e[1] == chosen), None)
    return Sample(chosen, match[2] if match else "", None, examples[0][0])


def run(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="The training data, as `ftctl prepare` takes it.",
            show_default=False,
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="Base model, e.g. davinci-002 or gpt-4o-mini-2024-07-18."
        ),
    ],
    sample: Annotated[
        str | None,
        typer.Option(
            "--sample",
            help="The prompt to try at the end [default: the first example's]; the data's "
            "separator is added if it is missing.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace the prepared file if it is there already (prepare --force)."
        ),
    ] = False,
    poll_interval: PollInterval = 5.0,
    yes: YesFlag = False,
) -> None:
    """Prepare, create, follow and try a tune in one go.

    \b
    1. prepare the data as `ftctl prepare -q` does (the prepared file goes beside the input);
    2. create the job with it (`ftctl create`: checks, cost, confirmation, upload);
    3. follow it until it ends;
    4. ask the tuned model one prompt from the data with the stop sequence the data implies,
    and print the answer beside the expected completion.

    Any other flag is passed to `ftctl create` (-v, --suffix, --n-epochs, --seed, --metadata,
    ...; see `ftctl create --help`). Stops at the first step that fails, naming it, with that
    step's exit code (prepare 2, create 1 or 2, follow 3 or 4, complete 1).
    """
    if not data.is_file():
        raise InputError(data, "no such file")
    extra = [*ctx.args, *(["--yes"] if yes else [])]
    create_args = ["-m", model, "--no-follow", "--json", *extra]
    _command(ctx, "create", ["-t", str(data), *create_args])  # refuse a bad flag before spending

    def prepare_step() -> tuple[dict[str, Any], Path, Sample]:
        from ftctl.prepare.run import OutputExists

        args = ["-f", str(data), "-q", "-m", model, "--json", *(["--force"] if force else [])]
        try:
            report = json.loads(_invoke(ctx, "prepare", args))
        except OutputExists as exc:  # prepare's own hint names prepare, which run does not redo
            raise OutputExists(
                exc.message, hint="add --force to the same command to replace it"
            ) from None
        prepared = Path((report.get("prepared_files") or [str(data)])[0])
        return report, prepared, read_sample(prepared, sample)

    report, prepared, chosen = _step("prepare", prepare_step)
    _output.note(
        f"{report.get('examples', '?')} examples, {report.get('format', '?')}; "
        + (f"training on {prepared}" if prepared != data else f"{data} is ready as it is")
    )
    created = _step("create", lambda: _invoke(ctx, "create", ["-t", str(prepared), *create_args]))
    job = json.loads(created)
    job_id = str(job["id"])

    service = jobs_service()
    _step(
        "follow",
        lambda: follow_job(service, job_id, poll_interval=poll_interval, as_json=False),
    )
    tuned = str(service.retrieve(job_id).get("fine_tuned_model"))
    answer = _step("complete", lambda: _ask(tuned, chosen))
    _output.echo("")
    _output.echo(f"model:     {tuned}")
    _output.echo(f"prompt:    {chosen.prompt}")
    _output.echo(f"expected:  {chosen.expected.strip() or '-'}")
    _output.echo(f"answer:    {answer.strip()}")
    if chosen.stop:
        _output.note(f"(asked with stop={json.dumps([chosen.stop])}, as prepare advised)")


def _ask(model: str, sample: Sample) -> str:
    from ftctl.models import uses_completions_endpoint
    from ftctl.service.completions import CompletionRequest, CompletionsService, choice_texts

    request = CompletionRequest(
        model=model,
        prompt=sample.prompt,
        max_tokens=SAMPLE_MAX_TOKENS,
        stop=[sample.stop] if sample.stop else [],
        system=None if uses_completions_endpoint(model) else sample.system,
    )
    texts = choice_texts(CompletionsService(current().client()).create(request))
    return texts[0] if texts else ""


def register(app: typer.Typer) -> None:
    app.command(
        "run",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(run)
