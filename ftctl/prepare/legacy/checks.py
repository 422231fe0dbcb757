"""The checks of the legacy `openai tools fine_tunes.prepare_data`, one function each, in its
order, with its thresholds and messages.

Each check reads what pass 1 gathered (Stats) and adds to the Analysis: a message, maybe analysis
action (a fix: necessary, always applied, or recommended, applied if accepted), or a fatal error
that stops the checks, as the legacy tool stopped. Where the legacy tool erred, ftctl does what it
meant to: its "additional columns" warning fires only for columns named like `prompt`/`completion`,
and classification advice names `babbage-002` (the tool named the retired `ada`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ftctl.prepare.legacy.gather import (
    CLASSIFICATION,
    COMPLETION_ENDINGS,
    CONDITIONAL,
    OPEN_ENDED,
    PROMPT_SEPARATORS,
    Stats,
)
from ftctl.prepare.readers import Source

MIN_EXAMPLES = 100
MAX_PROMPT_PREFIX = 12
MIN_COMPLETION_PREFIX = 5
LONG_SUFFIX = 10
SHOWN_ROWS = 100

PROMPT_SEPARATOR_FALLBACK = "\n\n### =>\n\n"
COMPLETION_ENDING_FALLBACK = " [END]"

DOCS = "https://platform.openai.com/docs/guides/fine-tuning/preparing-your-dataset"

# Action keys, in the order the legacy tool offers them.
READ = "read_format"
LOWER_PROMPT_COLUMN = "prompt_column_case"
LOWER_COMPLETION_COLUMN = "completion_column_case"
EXTRA_COLUMNS = "additional_columns"
EMPTY_COMPLETIONS = "empty_completions"
DUPLICATES = "duplicated_rows"
LONG_EXAMPLES = "long_examples"
LOWERCASE_PROMPTS = "lowercase_prompts"
LOWERCASE_COMPLETIONS = "lowercase_completions"
PROMPT_SUFFIX = "prompt_separator"
PROMPT_PREFIX = "prompt_prefix"
COMPLETION_PREFIX = "completion_prefix"
COMPLETION_SUFFIX = "completion_ending"
COMPLETION_SPACE = "completion_space"


def shown(text: str) -> str:
    """How the legacy tool displays a separator: newlines as `\\n`."""
    return text.replace("\n", "\\n")


def _rows_list(rows: list[int]) -> str:
    if len(rows) <= SHOWN_ROWS:
        return str(rows)
    return str(rows[:SHOWN_ROWS])[:-1] + f", ... ({len(rows) - SHOWN_ROWS} more)]"


@dataclass(frozen=True)
class Action:
    """One fix: necessary (always applied) or recommended (applied if accepted)."""

    key: str
    message: str
    necessary: bool = False


@dataclass
class Analysis:
    source: Source
    stats: Stats
    messages: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    error: str | None = None
    error_field: str | None = None
    error_category: str = ""
    prompt_separator: str = ""  # suggested
    completion_ending: str = ""  # suggested
    prompt_prefix: str = ""
    completion_prefix: str = ""
    said_by: list[str] = field(default_factory=list)  # the check behind each message
    current_check: str = ""

    @property
    def task(self) -> str:
        return self.stats.task

    @property
    def recommended(self) -> list[Action]:
        return [a for a in self.actions if not a.necessary]

    def say(self, message: str) -> None:
        self.messages.append(message)
        self.said_by.append(self.current_check)

    def messages_from(self, checks: tuple[Check, ...]) -> list[str]:
        names = {check.__name__ for check in checks}
        return [m for m, by in zip(self.messages, self.said_by, strict=True) if by in names]

    def act(self, key: str, message: str, *, necessary: bool = False) -> None:
        self.actions.append(Action(key, message, necessary))

    def fail(self, category: str, message: str, field: str | None = None) -> None:
        self.error, self.error_category, self.error_field = message, category, field


Check = Callable[[Analysis], None]


def check_read_format(analysis: Analysis) -> None:
    """How the file was read, and that it becomes JSON Lines."""
    source, rows = analysis.source, analysis.stats.rows
    if source.kind in ("csv", "tsv"):
        name = source.kind.upper()
        analysis.say(f"- Based on your file extension, your file is formatted as a {name} file")
        analysis.act(READ, f"Your format `{name}` will be converted to `JSONL`", necessary=True)
    elif source.kind == "xlsx":
        text = "- Based on your file extension, your file is formatted as an Excel file"
        if source.sheets > 1:
            text += (
                "\n- Your Excel file contains more than one sheet. Please either save as csv or "
                "ensure all data is present in the first sheet. WARNING: Reading only the first "
                "sheet..."
            )
        analysis.say(text)
        analysis.act(READ, "Your format `XLSX` will be converted to `JSONL`", necessary=True)
    elif source.kind == "txt":
        analysis.say("- Based on your file extension, you provided a text file")
        analysis.act(READ, "Your format `TXT` will be converted to `JSONL`", necessary=True)
    elif source.kind == "jsonl" and source.layout == "array":
        analysis.say(
            "- Your JSONL file appears to be in a JSON format. Your file will be converted to "
            "JSONL format"
        )
        analysis.act(READ, "Your format `JSON` will be converted to `JSONL`", necessary=True)
    elif source.kind == "json" and source.layout == "lines" and rows > 1:
        analysis.say(
            "- Your JSON file appears to be in a JSONL format. Your file will be converted to "
            "JSONL format"
        )
        analysis.act(READ, "Your format `JSON` will be converted to `JSONL`", necessary=True)


def check_number_of_examples(analysis: Analysis) -> None:
    rows = analysis.stats.rows
    advice = (
        ""
        if rows >= MIN_EXAMPLES
        else ". In general, we recommend having at least a few hundred examples. We've found "
        "that performance tends to linearly increase for every doubling of the number of examples"
    )
    analysis.say(f"- Your file contains {rows} prompt-completion pairs{advice}")
    if rows == 0:
        analysis.fail("no_examples", "the file holds no examples")


def check_columns(analysis: Analysis) -> None:
    """The `prompt` and `completion` columns exist (in any case; lower-cased if need be)."""
    stats = analysis.stats
    for name, key, action in (
        ("prompt", stats.prompt_key, LOWER_PROMPT_COLUMN),
        ("completion", stats.completion_key, LOWER_COMPLETION_COLUMN),
    ):
        if key not in stats.columns:
            message = (
                f"`{name}` column/key is missing. Please make sure you name your columns/keys "
                "appropriately, then retry"
            )
            analysis.fail(f"missing_{name}_column", message, name)
            return
        if key != name:
            analysis.say(f"- The `{name}` column/key should be lowercase")
            analysis.act(action, f"Lower case column name to `{name}`", necessary=True)


def check_extra_columns(analysis: Analysis) -> None:
    stats = analysis.stats
    extra = [c for c in stats.columns if c not in (stats.prompt_key, stats.completion_key)]
    if not extra:
        return
    warning = ""
    for name in ("prompt", "completion"):
        if any(name in c.lower() for c in extra):
            warning += (
                f"\n  WARNING: Some of the additional columns/keys contain `{name}` in their "
                f"name. These will be ignored, and the column/key `{name}` will be used "
                "instead. This could also result from a duplicate column/key in the provided "
                "file."
            )
    analysis.say(
        "- The input file should contain exactly two columns/keys per row. Additional "
        f"columns/keys present are: {extra}{warning}"
    )
    analysis.act(EXTRA_COLUMNS, f"Remove additional columns/keys: {extra}", necessary=True)


def check_empty_completions(analysis: Analysis) -> None:
    empty = analysis.stats.empty_rows
    if empty:
        analysis.say(
            "- `completion` column/key should not contain empty strings. These are rows: "
            f"{_rows_list(empty)}"
        )
        analysis.act(
            EMPTY_COMPLETIONS, f"Remove {len(empty)} rows with empty completions", necessary=True
        )
    if analysis.stats.examples == 0:
        message = "no example has a completion: there is nothing to train on"
        analysis.fail("no_examples", message, "completion")


def check_task(analysis: Analysis) -> None:
    if analysis.task == CLASSIFICATION:
        analysis.say(
            "- Based on your data it seems like you're trying to fine-tune a model for "
            "classification\n- For classification, we recommend you try one of the faster and "
            "cheaper models, such as `babbage-002`\n- For classification, you can estimate the "
            "expected model performance by keeping a held out dataset, which is not used for "
            "training"
        )


def check_duplicates(analysis: Analysis) -> None:
    duplicates = analysis.stats.duplicate_rows
    if duplicates:
        n = len(duplicates)
        analysis.say(
            f"- There are {n} duplicated prompt-completion sets. These are rows: "
            f"{_rows_list(duplicates)}"
        )
        analysis.act(DUPLICATES, f"Remove {n} duplicate rows")


def check_long_examples(analysis: Analysis) -> None:
    long_rows = analysis.stats.long_rows
    if analysis.task != OPEN_ENDED and long_rows:
        n = len(long_rows)
        analysis.say(
            f"- There are {n} examples that are very long. These are rows: "
            f"{_rows_list(long_rows)}\nFor conditional generation, and for classification the "
            "examples shouldn't be longer than 2048 tokens."
        )
        analysis.act(LONG_EXAMPLES, f"Remove {n} long examples")


def check_upper_case(analysis: Analysis) -> None:
    stats = analysis.stats
    for name, texts, action in (
        ("prompt", stats.prompts, LOWERCASE_PROMPTS),
        ("completion", stats.completions, LOWERCASE_COMPLETIONS),
    ):
        if texts.upper * 2 > texts.lower:
            analysis.say(
                f"- More than a third of your `{name}` column/key is uppercase. Uppercase {name}s "
                "tends to perform worse than a mixture of case encountered in normal language. We "
                "recommend to lower case the data if that makes sense in your domain. See "
                f"{DOCS} for more details"
            )
            analysis.act(action, f"Lowercase all your data in column/key `{name}`")


def needs_suffix_repeats(analysis: Analysis) -> bool:
    """Whether the separator or ending checks will ask if a common suffix repeats inside texts
    (one more pass over the file, made only then)."""
    stats, task = analysis.stats, analysis.task
    return (task != OPEN_ENDED and bool(stats.prompts.suffix)) or (
        task == CONDITIONAL and bool(stats.completions.suffix)
    )


def _common_suffix_message(texts: str, suffix: str, shorter: str, repeated: str) -> str:
    """The legacy message for a suffix all texts share (too long: a shorter one suggested)."""
    text = f"- All {texts} end with suffix `{shown(suffix)}`"
    if len(suffix) > LONG_SUFFIX:
        text += (
            ". This suffix seems very long. Consider replacing with a shorter suffix, "
            f"such as `{shown(shorter)}`"
        )
    return text + repeated


def check_prompt_separator(analysis: Analysis) -> None:
    stats = analysis.stats
    if analysis.task == OPEN_ENDED:
        return
    suggestion = PROMPT_SEPARATOR_FALLBACK
    for i, separator in enumerate(PROMPT_SEPARATORS):
        if separator == " ->" and stats.prompts.has_newline:
            continue
        if not stats.prompts.contains[i]:
            suggestion = separator
            break
    analysis.prompt_separator = suggestion
    suffix = stats.prompts.suffix or ""
    if stats.prompts.all_equal:
        message = (
            f"All prompts are identical: `{shown(suffix)}`. Consider leaving the prompts "
            "blank if you want to do open-ended generation, otherwise ensure prompts are "
            "different"
        )
        analysis.fail("identical_prompts", message, "prompt")
        return
    if suffix:
        warning = (
            f"\n  WARNING: Some of your prompts contain the suffix `{suffix}` more than "
            "once. We strongly suggest that you review your prompts and add a unique "
            "suffix"
        )
        repeated = warning if stats.prompt_suffix_repeated else ""
        analysis.say(_common_suffix_message("prompts", suffix, suggestion, repeated))
    else:
        analysis.say(
            "- Your data does not contain a common separator at the end of your prompts. "
            "Having a separator string appended to the end of the prompt makes it clearer to "
            "the fine-tuned model where the completion should begin. See "
            f"{DOCS} for more detail and examples. If you intend to do open-ended "
            "generation, then you should leave the prompts empty"
        )
        analysis.act(PROMPT_SUFFIX, f"Add a suffix separator `{shown(suggestion)}` to all prompts")


def check_prompt_prefix(analysis: Analysis) -> None:
    prompts = analysis.stats.prompts
    prefix = prompts.prefix or ""
    if not prefix or prompts.all_equal:
        return
    text = f"- All prompts start with prefix `{prefix}`"
    if len(prefix) > MAX_PROMPT_PREFIX:
        text += (
            ". Fine-tuning doesn't require the instruction specifying the task, or a few-shot "
            "example scenario. Most of the time you should only add the input data into the "
            "prompt, and the desired output into the completion"
        )
        analysis.prompt_prefix = prefix
        analysis.act(PROMPT_PREFIX, f"Remove prefix `{prefix}` from all prompts")
    analysis.say(text)


def check_completion_prefix(analysis: Analysis) -> None:
    completions = analysis.stats.completions
    prefix = completions.prefix or ""
    if len(prefix) >= MIN_COMPLETION_PREFIX and not completions.all_equal:
        analysis.say(
            f"- All completions start with prefix `{prefix}`. Most of the time you should only "
            "add the output data into the completion, without any prefix"
        )
        analysis.completion_prefix = prefix
        analysis.act(COMPLETION_PREFIX, f"Remove prefix `{prefix}` from all completions")


def check_completion_ending(analysis: Analysis) -> None:
    stats = analysis.stats
    if analysis.task != CONDITIONAL:
        return
    suffix = stats.completions.suffix or ""
    if stats.completions.all_equal:
        message = (
            f"All completions are identical: `{suffix}`. Ensure completions are different, "
            f"otherwise the model will just repeat `{suffix}`"
        )
        analysis.fail("identical_completions", message, "completion")
        return
    ending = COMPLETION_ENDING_FALLBACK
    for i, option in enumerate(COMPLETION_ENDINGS):
        if not stats.completions.contains[i]:
            ending = option
            break
    analysis.completion_ending = ending
    if suffix:
        warning = (
            f"\n  WARNING: Some of your completions contain the suffix `{suffix}` more "
            "than once. We suggest that you review your completions and add a unique "
            "ending"
        )
        repeated = warning if stats.completion_suffix_repeated else ""
        analysis.say(_common_suffix_message("completions", suffix, ending, repeated))
    else:
        analysis.say(
            "- Your data does not contain a common ending at the end of your completions. "
            "Having a common ending string appended to the end of the completion makes it "
            "clearer to the fine-tuned model where the completion should end. See "
            f"{DOCS} for more detail and examples."
        )
        analysis.act(COMPLETION_SUFFIX, f"Add a suffix ending `{shown(ending)}` to all completions")


def check_completion_space(analysis: Analysis) -> None:
    stats = analysis.stats
    if not stats.completion_first_chars_equal or stats.first_completion_char != " ":
        analysis.say(
            "- The completion should start with a whitespace character (` `). This tends to "
            "produce better results due to the tokenization we use. See "
            f"{DOCS} for more details"
        )
        analysis.act(
            COMPLETION_SPACE, "Add a whitespace character to the beginning of the completion"
        )


# The legacy tool's order. Checks before SUFFIX_REPEATS_NEEDED run on pass 1 alone.
CHECKS: tuple[Check, ...] = (
    check_read_format,
    check_number_of_examples,
    check_columns,
    check_extra_columns,
    check_empty_completions,
    check_task,
    check_duplicates,
    check_long_examples,
    check_upper_case,
    check_prompt_separator,
    check_prompt_prefix,
    check_completion_prefix,
    check_completion_ending,
    check_completion_space,
)
SUFFIX_REPEATS_NEEDED = check_prompt_separator
# What --to-chat applies too (it reads the file, keeps the two columns, drops empty
# completions); the other checks advise on prompt/completion data only.
CHAT_CONVERSION_CHECKS: tuple[Check, ...] = (
    check_read_format,
    check_number_of_examples,
    check_columns,
    check_extra_columns,
    check_empty_completions,
)


def messages_for_chat(analysis: Analysis) -> list[str]:
    """The messages that still hold when the data is converted to chat data."""
    return analysis.messages_from(CHAT_CONVERSION_CHECKS)


def run_checks(analysis: Analysis, find_suffix_repeats: Callable[[], None]) -> Analysis:
    """Every check in order, stopping at the first fatal one; find_suffix_repeats runs (one more
    pass) just before the first check that reads its answer, and only if one will."""
    for check in CHECKS:
        if check is SUFFIX_REPEATS_NEEDED and needs_suffix_repeats(analysis):
            find_suffix_repeats()
        analysis.current_check = check.__name__
        check(analysis)
        if analysis.error is not None:
            break
    return analysis
