"""`ftctl prepare`: check training data before anything is uploaded or paid for.

Prompt/completion data (JSONL, JSON, CSV, TSV, XLSX, TXT) gets the legacy `prepare_data` checks and
fixes; chat and preference (DPO) JSONL get the service's checks, exact token counts and a cost
estimate. The analysis is the command's output (stdout); questions and progress go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ftctl.cli import _output
from ftctl.cli._options import ReportJsonFlag
from ftctl.errors import InputError, UsageError
from ftctl.exit_codes import ExitCode
from ftctl.pricing import PRICES_DATE

if TYPE_CHECKING:
    from ftctl.prepare.legacy import Analysis, Outcome
    from ftctl.prepare.report import DataReport

DEFAULT_CHAT_MODEL = "gpt-4o-mini-2024-07-18"
DEFAULT_COMPLETION_MODEL = "davinci-002"
DEFAULT_REINFORCEMENT_MODEL = "o4-mini-2025-04-16"
PROGRESS_MIN_BYTES = 16 << 20

PREPARE_HELP = """Check training data before anything is uploaded or paid for.

Prompt/completion data (JSONL, JSON array or lines, CSV, TSV, XLSX first sheet, TXT) runs the
checks of the legacy `openai tools fine_tunes.prepare_data`, in its order and with its messages,
and offers its fixes ([Recommended] ones to accept, [Necessary] ones always applied). The result
goes beside the input as <name>_prepared.jsonl (never overwriting: <name>_prepared (1).jsonl, ...);
when nothing needs changing no file is written. The input file is never modified.

Chat, preference (DPO) and, with --grader, reinforcement JSONL is checked as the service checks
it (each reinforcement line also against every {{{{item.x}}}} the grader reads), with an error
count per category and the first lines of each, exact offline token counts with the model's
encoding, examples over the model's training limit, epochs, billed tokens and the estimated cost.

Questions ([Y/n], on stderr) are asked on a terminal only. Without a terminal on stdin ftctl
answers as -q does (every recommendation accepted) and says so on stderr; --json implies -q. A
script never hangs.

Tokens of a chat example are the ones the service bills: 3 per message plus its encoded strings
(1 more for a `name`), plus 1 per example; the cookbook's count adds 3 per example to prime a
reply, which a training example already holds (the one billed job on record, 10 examples x 10
epochs, was billed 5,070: this count). Preference examples count input and both outputs.
Epochs follow the cookbook's heuristic (3; more under 34 examples, fewer over 8,333; 1-25);
billed tokens = epochs x sum(min(limit, tokens)). Prices: a dated table in ftctl (USD per 1M
training tokens, as published in {date}); point FTCTL_PRICES at a JSON file such as
{{"gpt-4o-mini": 3.0}} to override it, or pass --price.

Files are streamed, never loaded: chat data needs the same memory however big the file is;
prompt/completion data keeps a fingerprint per row (about 150 bytes) to spot duplicates. JSON Lines
files over 8 MB are read by two worker processes (FTCTL_WORKERS=N to change), with a progress bar
on a terminal.

Exit status: 0 when the data is usable, 2 when it is not (or cannot be read).
"""
PREPARE_HELP = PREPARE_HELP.replace("{date}", PRICES_DATE).replace("{{", "{").replace("}}", "}")


@dataclass(frozen=True)
class Opts:
    quiet: bool
    interactive: bool
    model: str | None
    prices: dict[str, float]
    as_json: bool
    system: str | None
    to_chat: bool
    bar: bool
    count_tokens: bool
    grader: Path | None = None


class RejectedData(UsageError):
    """Data the service would reject (exit 2)."""


def _ask(question: str, interactive: bool) -> bool:
    """A `[Y/n]` question: asked on stderr on a terminal, else answered Y (shown on stdout)."""
    if not interactive:
        _output.echo(f"{question}Y")
        return True
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        answer = input()
    except EOFError:
        answer = ""
    return answer.strip().lower() != "n"


@contextmanager
def _progress(label: str, total: int, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (terminal only, for big files); yields an update(done, total)."""
    if not enabled:
        yield lambda _done, _total: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=_output.err_console(),
        transient=True,
        auto_refresh=False,  # no refresh thread: worker processes are forked while it runs
    )
    task = bar.add_task(label, total=total)

    def update(done: int, whole: int) -> None:
        bar.update(task, completed=done, total=whole)
        bar.refresh()

    with bar:
        yield update


def _fmt_dist(name: str, dist: object) -> str:
    from ftctl.prepare.stats import Distribution

    if not isinstance(dist, Distribution):
        return f"- {name}: none"
    return (
        f"- Distribution of {name}: min / max: {dist.min}, {dist.max}; "
        f"mean / median: {dist.mean:.2f}, {dist.median:g}; p5 / p95: {dist.p5:g}, {dist.p95:g}"
    )


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


def _cost_lines(report: DataReport) -> list[str]:
    from ftctl.pricing import PRICES_DATE

    if not report.tokens_counted:
        return [f"- Tokens not counted (--no-tokens): {report.examples:,} examples"]
    lines = [
        f"- Dataset has ~{report.total_tokens:,} tokens ({report.encoding}, exact) in "
        f"{report.examples:,} examples; the longest has {report.max_example:,}",
    ]
    if report.over_limit:
        lines.append(
            f"- {report.over_limit:,} examples may be over the {report.limit:,} token limit of "
            f"{report.model}, they will be truncated during fine-tuning"
        )
    lines.append(f"- By default, you'll train for {report.n_epochs} epochs on this dataset")
    lines.append(
        f"- By default, you'll be charged for ~{report.billed_tokens:,} tokens "
        f"({report.n_epochs} epochs x min({report.limit:,}, tokens) per example)"
    )
    if report.estimated_cost_usd is None:
        lines.append(
            f"- Estimated cost: unknown for {report.model} (set a price with --price or "
            "FTCTL_PRICES)"
        )
    else:
        lines.append(
            f"- Estimated cost: {_usd(report.estimated_cost_usd)} for {report.model} at "
            f"${report.price_per_1m:g} per 1M training tokens (prices of {PRICES_DATE})"
        )
    return lines


def _print_chat_report(report: DataReport) -> None:
    from ftctl.prepare.records import CATEGORIES

    say = _output.echo
    kind = {
        "chat": "chat",
        "preference": "preference (DPO)",
        "prompt_completion": "prompt/completion",
    }
    say(f"Analyzing {kind.get(report.format, report.format)} data in {report.path}...")
    say(f"- Your file contains {report.examples:,} examples")
    if report.errors:
        say("- Found errors:")
        for category, count in report.errors.items():
            say(f"    {category}: {count:,}  ({CATEGORIES.get(category, '')})")
    else:
        say("- No errors found")
    for name, dist in report.distributions.items():
        say(_fmt_dist(name.replace("_", " "), dist))
    for line in _cost_lines(report):
        say(line)


def _model_for(fmt: str, model: str | None) -> str:
    if model:
        return model
    return DEFAULT_COMPLETION_MODEL if fmt == "prompt_completion" else DEFAULT_CHAT_MODEL


def _finish_chat(
    report: DataReport, as_json: bool, next_file: Path, grader: Path | None = None
) -> None:
    """Print the report; exit 2 (problems listed on stderr) when the data is not usable."""
    if as_json:
        _output.emit_json(report.as_json())
    else:
        _print_chat_report(report)
    if not report.usable:
        for problem in report.problems:
            _output.note(problem)
        raise RejectedData(
            f"{next_file}: the service would reject this data "
            f"({sum(report.errors.values()):,} problem(s))",
            hint="fix the lines above, then run the same command again",
        )
    if not as_json:
        _output.echo(
            f'\nThe data is usable. Next:\n> ftctl create -t "{next_file}" -m {report.model}'
            + (f' --grader "{grader}"' if grader is not None else "")
        )


def _chat_report(path: Path, model: str, opts: Opts) -> DataReport:
    from ftctl.prepare.report import analyze_jsonl

    size = path.stat().st_size
    show = opts.bar and size >= PROGRESS_MIN_BYTES
    with _progress(f"Checking {path.name}", size, show) as update:
        return analyze_jsonl(
            path,
            model,
            prices=opts.prices,
            progress=update,
            count_tokens=opts.count_tokens,
            grader=opts.grader,
        )


def _print_analysis(an: Analysis) -> None:
    for message in an.messages:
        _output.echo(message)


def _legacy_ready(an: Analysis, model: str) -> None:
    from ftctl.prepare.legacy import shown

    st = an.stats
    prompt_suffix = shown(st.prompts.suffix or "")
    completion_suffix = shown(st.completions.suffix or "")
    _output.echo(
        f'\nYou can use your file for fine-tuning:\n> ftctl create -t "{an.source.path}" -m {model}'
    )
    _reminders(prompt_suffix, completion_suffix)


def _reminders(prompt_suffix: str, completion_suffix: str) -> None:
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
    if text:
        _output.echo("\n" + text.strip())


def _wrote(outcome: Outcome, model: str) -> None:
    from ftctl.prepare.legacy import shown

    files = outcome.files
    names = "` and `".join(str(f) for f in files)
    plural = "s" if len(files) > 1 else ""
    valid = f' -v "{files[1]}"' if len(files) > 1 else ""
    _output.echo(
        f"\nWrote modified file{plural} to `{names}`\nFeel free to take a look!\n\n"
        f'Now use that file when fine-tuning:\n> ftctl create -t "{files[0]}"{valid} -m {model}'
    )
    _reminders(shown(outcome.prompt_suffix), shown(outcome.completion_suffix))


def _prompt_completion(path: Path, opts: Opts) -> None:
    from array import array

    from ftctl.prepare import legacy
    from ftctl.prepare.readers import open_source
    from ftctl.prepare.report import build_report
    from ftctl.prepare.scan import ScanResult
    from ftctl.tokens import encoding_name_for_model

    as_json, interactive, model = opts.as_json, opts.interactive, opts.model
    src = open_source(path)
    if not as_json:
        _output.echo("Analyzing...\n")
    size = path.stat().st_size
    show = opts.bar and size >= PROGRESS_MIN_BYTES
    with _progress(f"Analyzing {path.name}", size, show) as update:
        an = legacy.analyze(src, progress=lambda done: update(done, size))
    if not as_json:
        _print_analysis(an)
    if an.error is not None:
        if as_json:
            _output.emit_json(
                {
                    "file": str(path),
                    "format": "prompt_completion",
                    "examples": an.stats.rows,
                    "usable": False,
                    "errors": {an.error_category: 1},
                    "problems": [f"{path}: {an.error_field}: {an.error}"],
                    "messages": an.messages,
                }
            )
        raise InputError(path, an.error, field=an.error_field)

    if opts.to_chat:
        _convert_to_chat(an, opts)
        return

    target_model = _model_for("prompt_completion", model)
    if not as_json and an.actions:
        _output.echo("\nBased on the analysis we will perform the following actions:")
    elif not as_json:
        _output.echo("\nNo remediations found.")
    asks = an.recommended or an.task == legacy.CLASSIFICATION
    if asks and not interactive and not opts.quiet and not as_json:
        _output.note("stdin is not a terminal: accepting every recommendation, as -q does")
    accepted: set[str] = set()
    for action in an.actions:
        if action.necessary:
            if not as_json:
                _output.echo(f"- [Necessary] {action.message}")
            accepted.add(action.key)
        elif as_json or _ask(f"- [Recommended] {action.message} [Y/n]: ", interactive):
            accepted.add(action.key)

    outcome: Outcome | None = None
    split = False
    if an.task == legacy.CLASSIFICATION:
        split = as_json or _ask(
            "- [Recommended] Would you like to split into training and validation set? [Y/n]: ",
            interactive,
        )
    must_convert = src.layout == "array"  # the service takes JSON Lines only
    if accepted or must_convert or split:
        proceed = as_json or _ask(
            "\n\nYour data will be written to a new JSONL file. Proceed [Y/n]: ", interactive
        )
        if not proceed:
            _output.echo("Aborting... did not write the file")
            raise typer.Exit(ExitCode.OK)
        encoding = encoding_name_for_model(target_model) if opts.count_tokens else None
        with _progress(f"Writing {path.name}", size, show) as update:
            outcome = legacy.write_prepared(
                an, accepted, split, encoding, progress=lambda done: update(done, size)
            )
        if not as_json:
            _wrote(outcome, target_model)
    elif not as_json:
        _legacy_ready(an, target_model)

    if outcome is not None:
        scan = ScanResult(
            path=outcome.files[0],
            format="prompt_completion",
            examples=outcome.train_examples,
            tokens=array("I", outcome.tokens),
            assistant_tokens=array("I", outcome.completion_tokens),
        )
        report = build_report(scan, target_model, opts.prices, counted=opts.count_tokens)
        upload = outcome.files[0]
    else:
        report = _chat_report(path, target_model, opts)
        upload = path
    if as_json:
        data = report.as_json()
        data["file"] = str(path)
        data["prepared_files"] = [str(f) for f in outcome.files] if outcome else []
        data["task"] = an.task
        data["messages"] = an.messages
        data["actions"] = [
            {"key": a.key, "message": a.message, "necessary": a.necessary, "applied": True}
            for a in an.actions
        ]
        _output.emit_json(data)
        if not report.usable:
            raise typer.Exit(ExitCode.USAGE)
        return
    _output.echo("")
    for line in _cost_lines(report):
        _output.echo(line)
    if not report.usable:
        for problem in report.problems:
            _output.note(problem)
        raise RejectedData(
            f"{upload}: the service would reject this data for {target_model}",
            hint="fix the lines above (or use --to-chat for today's chat models)",
        )


def _convert_to_chat(an: Analysis, opts: Opts) -> None:
    from ftctl.prepare.legacy import to_chat_rows
    from ftctl.prepare.writer import atomic_files, prepared_names

    target = prepared_names(an.source.path, False, tag="_chat")[0]
    with atomic_files([target]) as (writer,):
        for example in to_chat_rows(an, opts.system):
            writer.write(json.dumps(example, ensure_ascii=False) + "\n")
    written = writer.target
    if not opts.as_json:
        _output.echo(f"\nWrote chat data to `{written}`\n")
    report = _chat_report(written, opts.model or DEFAULT_CHAT_MODEL, opts)
    if opts.as_json:
        data = report.as_json()
        data["prepared_files"] = [str(written)]
        _output.emit_json(data)
        if not report.usable:
            for problem in report.problems:
                _output.note(problem)
            raise typer.Exit(ExitCode.USAGE)
        return
    _finish_chat(report, False, written)


def prepare(
    file_arg: Annotated[
        Path | None,
        typer.Argument(metavar="FILE", help="The data file; same as -f.", show_default=False),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="The data file: .jsonl, .json, .csv, .tsv, .xlsx or .txt.",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Accept every recommendation without asking."),
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model to train: picks the encoding, token limit and price "
            f"[default: {DEFAULT_CHAT_MODEL} for chat data, {DEFAULT_COMPLETION_MODEL} for "
            "prompt/completion].",
            show_default=False,
        ),
    ] = None,
    to_chat: Annotated[
        bool,
        typer.Option(
            "--to-chat",
            help="Turn prompt/completion data into chat data for today's models "
            "(<name>_chat.jsonl; separator and leading space stripped).",
        ),
    ] = False,
    system: Annotated[
        str | None,
        typer.Option(
            "--system",
            help="With --to-chat: a system message to put first in every example.",
            show_default=False,
        ),
    ] = None,
    price: Annotated[
        float | None,
        typer.Option(
            "--price",
            min=0.0,
            metavar="USD",
            help="USD per 1M training tokens for the model, instead of ftctl's table "
            "(or FTCTL_PRICES).",
            show_default=False,
        ),
    ] = None,
    no_tokens: Annotated[
        bool,
        typer.Option(
            "--no-tokens",
            help="Skip the token count and cost estimate: the checks alone (faster on big files).",
        ),
    ] = False,
    grader: Annotated[
        Path | None,
        typer.Option(
            "--grader",
            metavar="FILE",
            help="A grader (JSON) for reinforcement data: each line must end with a user turn "
            "and hold every {{item.x}} the grader reads [default model: "
            f"{DEFAULT_REINFORCEMENT_MODEL}].",
            show_default=False,
        ),
    ] = None,
    as_json: ReportJsonFlag = False,
) -> None:
    from ftctl.pricing import load_overrides

    if file_arg and file and file_arg != file:
        raise UsageError(f"two different files given: '{file_arg}' and '{file}'")
    path = file or file_arg
    if path is None:
        raise UsageError("missing data file", hint="pass it with -f FILE")
    if system is not None and not to_chat:
        raise UsageError("--system goes with --to-chat")
    prices = load_overrides()
    if not path.exists():
        raise InputError(path, "no such file")

    from ftctl.prepare.readers import open_source
    from ftctl.prepare.scan import detect_format

    src = open_source(path)
    fmt = detect_format(path) if src.layout == "lines" else None
    if fmt in ("chat", "preference") and to_chat:
        raise UsageError(f"{path}: this is {fmt} data already; --to-chat is for prompt/completion")
    chosen = _model_for(
        "chat" if to_chat or fmt in ("chat", "preference") else "prompt_completion", model
    )
    if grader is not None and not model:
        chosen = DEFAULT_REINFORCEMENT_MODEL
    if price is not None:
        prices[chosen] = price
    opts = Opts(
        quiet=quiet,
        interactive=_output.stdin_is_tty() and not quiet and not as_json,
        model=model,
        prices=prices,
        as_json=as_json,
        system=system,
        to_chat=to_chat,
        bar=_output.stderr_is_tty(),
        count_tokens=not no_tokens,
        grader=grader,
    )
    if fmt in ("chat", "preference") or (grader is not None and src.layout == "lines"):
        _finish_chat(_chat_report(path, chosen, opts), as_json, path, grader)
    else:
        _prompt_completion(path, opts)


prepare.__doc__ = PREPARE_HELP


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("prepare", help=PREPARE_HELP)(prepare)
