"""What `ftctl prepare` does, step by step, with the talking left to the caller (a Conversation):
read the file, run the checks that fit its data, ask about the fixes, write the output, and end
with one PrepareResult. No Typer or Rich here; the CLI supplies the Conversation.
"""

from __future__ import annotations

import json
import shlex
from array import array
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ftctl.errors import UsageError
from ftctl.prepare.files import shown_path
from ftctl.prepare.records import CHAT, PREFERENCE, PROMPT_COMPLETION
from ftctl.prepare.result import LegacySummary, PrepareResult

if TYPE_CHECKING:  # imported where used: `prepare --help` loads none of them
    from ftctl.prepare.legacy import Analysis, Outcome
    from ftctl.prepare.readers import Source
    from ftctl.prepare.report import DataReport

DEFAULT_CHAT_MODEL = "gpt-4o-mini-2024-07-18"
DEFAULT_COMPLETION_MODEL = "davinci-002"
DEFAULT_REINFORCEMENT_MODEL = "o4-mini-2025-04-16"
PROGRESS_MIN_BYTES = 16 << 20

Update = Callable[[int], None]  # bytes done


class Conversation(Protocol):
    """How prepare talks to its user."""

    def say(self, text: str) -> None: ...

    def ask(self, question: str) -> bool: ...

    def progress(self, label: str, total: int) -> AbstractContextManager[Update]: ...


@dataclass(frozen=True)
class Options:
    model: str | None = None
    prices: dict[str, float] = field(default_factory=dict)
    to_chat: bool = False
    system: str | None = None
    output: Path | None = None
    force: bool = False
    count_tokens: bool = True
    grader: Path | None = None  # reinforcement data, checked against this grader
    command: str = "ftctl prepare"  # how the user ran it, for the commands suggested


class OutputExists(UsageError):
    """An output file is there already and --force was not given."""


def model_for(fmt: str, model: str | None) -> str:
    if model:
        return model
    return DEFAULT_COMPLETION_MODEL if fmt == PROMPT_COMPLETION else DEFAULT_CHAT_MODEL


def command_line(*words: str | Path) -> str:
    """A shell command of words: paths in double quotes (single quotes when they hold a
    character the shell expands there), control characters escaped."""
    return " ".join(_quoted(shown_path(w)) if isinstance(w, Path) else w for w in words)


def _quoted(path: str) -> str:
    return shlex.quote(path) if any(c in path for c in '"$`\\!') else f'"{path}"'


def create_command(files: list[Path], model: str, grader: Path | None = None) -> str:
    words: list[str | Path] = ["ftctl", "create", "-t", files[0]]
    if len(files) > 1:
        words += ["-v", files[1]]
    words += ["-m", model]
    if grader is not None:
        words += ["--grader", grader]
    return command_line(*words)


def prepare(path: Path, options: Options, talk: Conversation) -> PrepareResult:
    """Check (and for prompt/completion data, fix) the data file at path."""
    from ftctl.prepare.readers import open_source
    from ftctl.prepare.scan import detect_format

    source = open_source(path)
    fmt = detect_format(path) if source.layout == "lines" else None
    reinforcement = options.grader is not None and source.layout == "lines"
    if fmt in (CHAT, PREFERENCE) or reinforcement:
        if options.to_chat:
            raise UsageError(
                f"{shown_path(path)}: this is {fmt} data already; --to-chat is for "
                "prompt/completion data"
            )
        model = options.model or (DEFAULT_REINFORCEMENT_MODEL if reinforcement else None)
        report = _check(path, model_for(fmt or CHAT, model), options, talk, options.grader)
        return PrepareResult(
            file=path, report=report, next_commands=_next_create([path], report, options.grader)
        )
    return _prompt_completion(source, options, talk)


def _check(
    path: Path, model: str, options: Options, talk: Conversation, grader: Path | None = None
) -> DataReport:
    """The service's checks and the token count of a JSONL training file (with a grader: as
    reinforcement data)."""
    from ftctl.prepare.report import analyze_jsonl

    size = path.stat().st_size
    with _progress(talk, f"Checking {path.name}", size) as update:
        return analyze_jsonl(
            path,
            model,
            prices=options.prices,
            progress=lambda done, _total: update(done),
            count_tokens=options.count_tokens,
            grader=grader,
        )


def _ignore(_done: int) -> None:
    return None


def _progress(talk: Conversation, label: str, size: int) -> AbstractContextManager[Update]:
    """The caller's progress bar, for files big enough to need one."""
    if size < PROGRESS_MIN_BYTES:
        return nullcontext(_ignore)
    return talk.progress(label, size)


def _next_create(files: list[Path], report: DataReport, grader: Path | None = None) -> list[str]:
    return [create_command(files, report.model, grader)] if report.usable else []


def _summary(analysis: Analysis, messages: list[str], applied: set[str]) -> LegacySummary:
    return LegacySummary(
        task=analysis.task,
        messages=messages,
        actions=[
            {
                "key": a.key,
                "message": a.message,
                "necessary": a.necessary,
                "applied": a.key in applied,
            }
            for a in analysis.actions
        ],
    )


def _unchecked_report(path: Path, model: str, options: Options, examples: int) -> DataReport:
    """A report with no lines checked and no tokens counted (the checks stopped before)."""
    from ftctl.prepare.report import build_report
    from ftctl.prepare.scan import ScanResult

    scan = ScanResult(path=path, format=PROMPT_COMPLETION, examples=examples)
    report = build_report(scan, model, options.prices, counted=False)
    return replace(report, errors={}, problems=[])


def _prompt_completion(source: Source, options: Options, talk: Conversation) -> PrepareResult:
    from ftctl.prepare import legacy

    path = source.path
    talk.say("Analyzing...\n")
    size = path.stat().st_size
    model = model_for(CHAT if options.to_chat else PROMPT_COMPLETION, options.model)
    with _progress(talk, f"Analyzing {path.name}", size) as update:
        analysis = legacy.analyze(source, progress=update, preload=_preload(model, options))
    messages = legacy.messages_for_chat(analysis) if options.to_chat else analysis.messages
    for message in messages:
        talk.say(message)
    if analysis.error is not None:
        report = _unchecked_report(path, model, options, analysis.stats.examples)
        where = f"{shown_path(path)}: {analysis.error_field}" if analysis.error_field else path
        summary = _summary(analysis, messages, set())
        result = PrepareResult(file=path, report=report, legacy=summary, reached_report=False)
        return result.with_problem(analysis.error_category, f"{where}: {analysis.error}")
    if options.to_chat:
        return _convert_to_chat(analysis, options, talk, messages)
    refused = _model_problem(model)
    if refused is not None:
        return _wrong_model(analysis, model, options, messages, refused)
    return _apply_fixes(analysis, model, options, talk)


def _preload(model: str, options: Options) -> Callable[[], object] | None:
    """Loading the encoder tokens will be counted with (about half a second), to run while the
    first pass reads the file rather than after it."""
    if not options.count_tokens:
        return None
    from ftctl.prepare import engine
    from ftctl.tokens import encoding_name_for_model

    encoding = encoding_name_for_model(model)
    return lambda: engine.token_counter(encoding)


def _model_problem(model: str) -> tuple[str, str] | None:
    from ftctl.prepare.report import model_problem

    return model_problem(PROMPT_COMPLETION, model)


def _wrong_model(
    analysis: Analysis,
    model: str,
    options: Options,
    messages: list[str],
    refused: tuple[str, str],
) -> PrepareResult:
    """Prompt/completion data for a model that cannot train on it: nothing is written. For a
    chat model the next step is the conversion (--to-chat)."""
    category, why = refused
    path = analysis.source.path
    if category == "wrong_format_for_model":  # the next step is named in full below
        from ftctl.models import models_offering

        trains = " and ".join(models_offering("supervised", "completions"))
        why = f"prompt/completion data trains only {trains}, not {model}"
    report = _unchecked_report(path, model, options, analysis.stats.examples)
    convert = command_line(options.command, "-f", path, "--to-chat", "-m", model)
    result = PrepareResult(
        file=path,
        report=report,
        legacy=_summary(analysis, messages, set()),
        next_commands=[convert] if category == "wrong_format_for_model" else [],
        reached_report=False,
    )
    return result.with_problem(category, f"{shown_path(path)}: {why}")


def _targets(analysis: Analysis, options: Options, split: bool, tag: str) -> list[Path]:
    from ftctl.prepare.writer import prepared_names, split_names

    if options.output is None:
        return prepared_names(analysis.source.path, split, tag=tag)
    return split_names(options.output) if split else [options.output]


def _refuse_existing(targets: list[Path], options: Options, source: Path) -> None:
    """UsageError for an output that would be the input or has no directory to go in;
    OutputExists naming the command that replaces the file(s), unless --force."""
    for target in targets:
        if target.exists() and target.samefile(source):
            raise UsageError(
                f"{shown_path(target)}: that is the input file; prepare never writes over it",
                hint="choose another name with -o PATH",
            )
        if not target.parent.is_dir():
            raise UsageError(f"{shown_path(target.parent)}: no such directory for the output")
    if options.force:
        return
    there = [t for t in targets if t.exists()]
    if not there:
        return
    words: list[str | Path] = [options.command, "-f", source]
    if options.output is not None:
        words += ["-o", options.output]
    redo = command_line(*words, "--force")
    raise OutputExists(
        f"{shown_path(there[0])}: the output file exists already",
        hint=f"replace it with `{redo}`, or choose another name with -o PATH",
    )


def _apply_fixes(
    analysis: Analysis, model: str, options: Options, talk: Conversation
) -> PrepareResult:
    from ftctl.prepare import legacy

    source = analysis.source
    path = source.path
    must_convert = source.layout == "array"  # the service takes JSON Lines only
    if analysis.task != legacy.CLASSIFICATION and (analysis.actions or must_convert):
        # refused before any question is asked (a classification split decides the names later)
        _refuse_existing(_targets(analysis, options, False, "_prepared"), options, path)
    talk.say(
        "\nBased on the analysis we will perform the following actions:"
        if analysis.actions
        else "\nNo remediations found."
    )
    accepted: set[str] = set()
    for action in analysis.actions:
        if action.necessary:
            talk.say(f"- [Necessary] {action.message}")
            accepted.add(action.key)
        elif talk.ask(f"- [Recommended] {action.message} [Y/n]: "):
            accepted.add(action.key)
    split = analysis.task == legacy.CLASSIFICATION and talk.ask(
        "- [Recommended] Would you like to split into training and validation set? [Y/n]: "
    )
    outcome: Outcome | None = None
    if accepted or must_convert or split:
        targets = _targets(analysis, options, split, "_prepared")
        _refuse_existing(targets, options, path)
        if not talk.ask("\n\nYour data will be written to a new JSONL file. Proceed [Y/n]: "):
            talk.say("Aborting... did not write the file")
            report = _unchecked_report(path, model, options, analysis.stats.examples)
            summary = _summary(analysis, analysis.messages, set())
            return PrepareResult(file=path, report=report, legacy=summary, reached_report=False)
        outcome = _write(analysis, accepted, targets, model, options, talk)
    summary = _summary(analysis, analysis.messages, accepted)
    if outcome is None:
        report = _check(path, model, options, talk)
        return PrepareResult(
            file=path,
            report=report,
            legacy=summary,
            next_commands=_next_create([path], report),
            reminders=_reminders(
                legacy.shown(analysis.stats.prompts.suffix or ""),
                legacy.shown(analysis.stats.completions.suffix or ""),
            ),
        )
    report = _written_report(outcome, model, options)
    return PrepareResult(
        file=path,
        report=report,
        prepared_files=outcome.files,
        legacy=summary,
        next_commands=_next_create(outcome.files, report),
        reminders=_reminders(
            legacy.shown(outcome.prompt_suffix), legacy.shown(outcome.completion_suffix)
        ),
    )


def _write(
    analysis: Analysis,
    accepted: set[str],
    targets: list[Path],
    model: str,
    options: Options,
    talk: Conversation,
) -> Outcome:
    from ftctl.prepare import legacy
    from ftctl.tokens import encoding_name_for_model

    path = analysis.source.path
    encoding = encoding_name_for_model(model) if options.count_tokens else None
    with _progress(talk, f"Writing {path.name}", path.stat().st_size) as update:
        try:
            return legacy.write_prepared(
                analysis,
                accepted,
                targets,
                overwrite=options.force,
                encoding_name=encoding,
                progress=update,
            )
        except FileExistsError:  # it appeared while the file was written
            _refuse_existing(targets, options, path)
            raise


def _written_report(outcome: Outcome, model: str, options: Options) -> DataReport:
    """The report on the file written, from the counts made while writing it."""
    from ftctl.prepare.report import build_report
    from ftctl.prepare.scan import ScanResult

    scan = ScanResult(
        path=outcome.files[0],
        format=PROMPT_COMPLETION,
        examples=outcome.train_examples,
        tokens=array("I", outcome.tokens),
        assistant_tokens=array("I", outcome.completion_tokens),
    )
    return build_report(scan, model, options.prices, counted=options.count_tokens)


def _reminders(prompt_suffix: str, completion_suffix: str) -> list[str]:
    text = ""
    if prompt_suffix:
        text = (
            "After you've fine-tuned a model, remember that your prompt has to end with the "
            f"indicator string `{prompt_suffix}` for the model to start generating completions, "
            "rather than continuing with the prompt."
        )
    if completion_suffix:
        text += (
            f' Make sure to include `stop=["{completion_suffix}"]` so that the generated texts '
            "ends at the expected place."
        )
    return [text.strip()] if text else []


def _chat_lines(analysis: Analysis, system: str | None) -> Iterator[str]:
    from ftctl.prepare import legacy

    for example in legacy.to_chat_rows(analysis, system):
        yield json.dumps(example, ensure_ascii=False) + "\n"


def _convert_to_chat(
    analysis: Analysis, options: Options, talk: Conversation, messages: list[str]
) -> PrepareResult:
    from ftctl.prepare.writer import atomic_files

    path = analysis.source.path
    (target,) = _targets(analysis, options, False, "_chat")
    _refuse_existing([target], options, path)
    try:
        with atomic_files([target], overwrite=options.force) as (writer,):
            for line in _chat_lines(analysis, options.system):
                writer.write(line)
    except FileExistsError:
        _refuse_existing([target], options, path)
        raise
    talk.say(f"\nWrote chat data to `{shown_path(target)}`\n")
    report = _check(target, model_for(CHAT, options.model), options, talk)
    return PrepareResult(
        file=path,
        report=report,
        prepared_files=[target],
        legacy=_summary(analysis, messages, set()),
        next_commands=_next_create([target], report),
    )
