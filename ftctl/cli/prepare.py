"""`ftctl prepare`: check training data before anything is uploaded or paid for.

Prompt/completion data (JSONL, JSON, CSV, TSV, XLSX, TXT) gets the legacy `prepare_data` checks and
fixes; chat and preference (DPO) JSONL get the service's checks, exact token counts and a cost
estimate. The analysis is the command's output (stdout); questions and progress go to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ftctl.cli import _output
from ftctl.cli._options import ReportJsonFlag
from ftctl.errors import UsageError
from ftctl.pricing import PRICES_DATE


def shown_path(path: str | Path) -> str:
    """A path as printed (control characters escaped): prepare's own, loaded on first use so
    `--help` does not import the prepare package."""
    from ftctl.prepare.files import shown_path as shown

    return shown(path)


if TYPE_CHECKING:
    from ftctl.prepare.report import DataReport
    from ftctl.prepare.result import PrepareResult
    from ftctl.prepare.stats import Distribution

DEFAULT_CHAT_MODEL = "gpt-4o-mini-2024-07-18"  # ftctl.prepare.run's (not imported for --help)
DEFAULT_COMPLETION_MODEL = "davinci-002"
DEFAULT_REINFORCEMENT_MODEL = "o4-mini-2025-04-16"

PREPARE_HELP = """Check training data before anything is uploaded or paid for.

Prompt/completion data (JSONL, JSON array or lines, CSV, TSV, XLSX first sheet, TXT) runs the
checks of the legacy `openai tools fine_tunes.prepare_data`, in its order and with its messages,
and offers its fixes ([Recommended] ones to accept, [Necessary] ones always applied). The result
goes beside the input as <name>_prepared.jsonl, or to -o PATH; a file that exists already is
replaced only with --force. When nothing needs changing no file is written. The input file is never
modified. Prompt/completion data trains davinci-002 and babbage-002 only: for today's chat models,
--to-chat converts it (<name>_chat.jsonl) and checks the result as chat data.

Chat, preference (DPO) and, with --grader, reinforcement JSONL is checked as the service checks
it (each reinforcement line also against every {{{{item.x}}}} the grader reads), with an error
count per category and the first lines of each, exact offline token counts with the model's
encoding, examples over the model's training limit, epochs, billed tokens and the estimated cost.

Questions ([Y/n], on stderr; asked again until the answer is y, n or empty for yes) are asked on
a terminal only. Without a terminal on stdin ftctl
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
files over 8 MB are read by two worker processes (one when the load average says every core is
busy; FTCTL_WORKERS=N to choose), with a progress bar on a terminal.

Files are read with bounds: a line over 64 MiB, nesting over 128 levels, and NaN/Infinity (not
JSON) are refused with the file and line. --json prints one object whatever the data (the checked
file's report, prepared_files, legacy, next).

Exit status: 0 when the data is usable, 2 when it is not (the problems on stderr, one per line),
or when the file cannot be read (a directory, FIFO, symlink loop, unreadable file).
"""
PREPARE_HELP = PREPARE_HELP.replace("{date}", PRICES_DATE).replace("{{", "{").replace("}}", "}")


class RejectedData(UsageError):
    """Data the service would reject (exit 2)."""


class Talk:
    """prepare's Conversation on a terminal or in a pipe: the analysis on stdout (wrapped to a
    terminal's width), questions on stderr, answered Y without a terminal, with -q or --json."""

    def __init__(self, *, interactive: bool, quiet: bool, as_json: bool, bar: bool) -> None:
        self.interactive = interactive
        self.quiet = quiet
        self.as_json = as_json
        self.bar = bar
        self.width = _terminal_width() if _output.stdout_is_tty() and not as_json else None
        self._noted = False

    def say(self, text: str) -> None:
        if not self.as_json:
            _output.echo(_wrap(text, self.width))

    def ask(self, question: str) -> bool:
        """A `[Y/n]` question: asked on stderr on a terminal until the answer is y, n or empty
        (yes); else answered Y, shown on stdout."""
        if self.as_json:
            return True
        if not self.interactive:
            if not self.quiet and not self._noted:
                _output.note("stdin is not a terminal: accepting every recommendation, as -q does")
                self._noted = True
            self.say(f"{question}Y")
            return True
        while True:
            sys.stderr.write(question)
            sys.stderr.flush()
            try:
                answer = input().strip().lower()
            except EOFError:
                return True  # Ctrl-D: the default
            if answer in ("", "y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            _output.note(f"Please answer y or n (not {answer!r}).")

    def progress(self, label: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
        return _progress(label, total, self.bar)


def _terminal_width() -> int:
    import shutil

    return max(40, shutil.get_terminal_size().columns)


def _wrap(text: str, width: int | None) -> str:
    """text with each line over width wrapped at spaces (commands, `> ...`, never)."""
    if width is None or all(len(line) <= width for line in text.split("\n")):
        return text
    import textwrap

    lines = []
    for line in text.split("\n"):
        if len(line) <= width or line.startswith("> "):
            lines.append(line)
            continue
        indent = "  " if line.startswith(("- ", "  ")) else ""
        lines.append(
            textwrap.fill(
                line,
                width,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


@contextmanager
def _progress(label: str, total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (terminal only); yields an update(done)."""
    if not enabled:
        yield lambda _done: None
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

    def update(done: int) -> None:
        bar.update(task, completed=done)
        bar.refresh()

    with bar:
        yield update


def _fmt_dist(name: str, dist: Distribution | None) -> str:
    if dist is None:
        return f"- {name}: none"
    return (
        f"- Distribution of {name}: min / max: {dist.min}, {dist.max}; "
        f"mean / median: {dist.mean:.2f}, {dist.median:g}; p5 / p95: {dist.p5:g}, {dist.p95:g}"
    )


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


def _cost_lines(report: DataReport) -> list[str]:
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
    if report.format == "reinforcement":
        lines.append(
            "- Reinforcement is billed by training time (and a model grader's tokens), "
            "not by these tokens"
        )
        return lines
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


_KINDS = {
    "chat": "chat",
    "preference": "preference (DPO)",
    "prompt_completion": "prompt/completion",
}


def _render_data_report(talk: Talk, report: DataReport) -> None:
    from ftctl.prepare.records import CATEGORIES

    kind = _KINDS.get(report.format, report.format)
    talk.say(f"Analyzing {kind} data in {shown_path(report.path)}...")
    talk.say(f"- Your file contains {report.examples:,} examples")
    if report.errors:
        talk.say("- Found errors:")
        for category, count in report.errors.items():
            talk.say(f"    {category}: {count:,}  ({CATEGORIES.get(category, '')})")
    else:
        talk.say("- No errors found")
    for name, dist in report.distributions.items():
        talk.say(_fmt_dist(name.replace("_", " "), dist))
    for line in _cost_lines(report):
        talk.say(line)
    if report.usable:
        talk.say("\nThe data is usable. Next:")


def _render_prompt_completion(talk: Talk, result: PrepareResult) -> None:
    files = result.prepared_files
    if files:
        names = "` and `".join(shown_path(f) for f in files)
        plural = "s" if len(files) > 1 else ""
        talk.say(f"\nWrote modified file{plural} to `{names}`\nFeel free to take a look!")
        if result.usable:
            talk.say("\nNow use that file when fine-tuning:")
    elif result.usable:
        talk.say("\nYou can use your file for fine-tuning:")


def _render(talk: Talk, result: PrepareResult) -> None:
    """The human rendering of a result (--json prints result.as_json() instead)."""
    report = result.report
    if not result.reached_report:
        return
    if report.format == "prompt_completion":
        _render_prompt_completion(talk, result)
        for command in result.next_commands:
            talk.say(f"> {command}")
        for reminder in result.reminders:
            talk.say("\n" + reminder)
        talk.say("")
        for line in _cost_lines(report):
            talk.say(line)
        return
    _render_data_report(talk, report)
    for command in result.next_commands:
        talk.say(f"> {command}")


def _finish(result: PrepareResult, talk: Talk, as_json: bool) -> None:
    """The one exit rule: usable data exits 0; else the problems go to stderr, one line each,
    and the command exits 2 (after the JSON, with --json)."""
    if as_json:
        _output.emit_json(result.as_json())
    else:
        _render(talk, result)
    if result.usable:
        return
    problems = result.report.problems
    hint = (
        f"run `{result.next_commands[0]}`"
        if result.next_commands
        else "fix the lines above, then run the same command again"
    )
    if len(problems) == 1 and not result.reached_report:
        raise RejectedData(problems[0], hint=hint)
    for problem in problems:
        _output.note(problem)
    raise RejectedData(
        f"{shown_path(result.report.path)}: the service would reject this data for "
        f"{result.report.model} ({sum(result.report.errors.values()):,} problem(s))",
        hint=hint,
    )


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
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to write the prepared (or --to-chat) file, instead of beside the input; "
            "a train/validation split writes PATH's _train and _valid siblings.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace output files that exist already."),
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
    from ftctl.prepare.run import Options
    from ftctl.prepare.run import prepare as prepare_file
    from ftctl.pricing import load_overrides

    if file_arg and file and file_arg != file:
        raise UsageError(
            f"two different files given: '{shown_path(file_arg)}' and '{shown_path(file)}'"
        )
    path = file or file_arg
    if path is None:
        raise UsageError("missing data file", hint="pass it with -f FILE")
    if system is not None and not to_chat:
        raise UsageError("--system goes with --to-chat")
    prices = load_overrides()
    if price is not None:
        defaults = [DEFAULT_CHAT_MODEL, DEFAULT_COMPLETION_MODEL, DEFAULT_REINFORCEMENT_MODEL]
        for name in [model] if model else defaults:
            prices[name] = price
    talk = Talk(
        interactive=_output.stdin_is_tty() and not quiet and not as_json,
        quiet=quiet,
        as_json=as_json,
        bar=_output.stderr_is_tty(),
    )
    options = Options(
        model=model,
        prices=prices,
        to_chat=to_chat,
        system=system,
        output=output,
        force=force,
        count_tokens=not no_tokens,
        grader=grader,
    )
    _finish(prepare_file(path, options, talk), talk, as_json)


prepare.__doc__ = PREPARE_HELP


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("prepare", help=PREPARE_HELP)(prepare)
