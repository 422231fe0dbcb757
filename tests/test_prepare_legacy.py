"""`ftctl prepare` on prompt/completion data: the legacy tool's checks, messages and output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ftctl.cli import _output
from ftctl.cli.app import app

DATA = Path(__file__).parent / "data" / "prepare"
EXPECTED = DATA / "expected"
BOOK = Path(__file__).parent.parent / "fixtures" / "book"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, ["prepare", *args], input=input, catch_exceptions=False)


def copy(tmp_path: Path, name: str, src: Path = DATA) -> Path:
    target = tmp_path / name
    shutil.copy(src / name, target)
    return target


def prepared(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if "_prepared" in p.name)


def test_book_walkthrough_is_byte_identical(tmp_path: Path) -> None:
    data = copy(tmp_path, "train_data.json", BOOK)
    before = data.read_bytes()
    result = run("-q", "-f", str(data))
    assert result.exit_code == 0, result.output
    out = tmp_path / "train_data_prepared.jsonl"
    assert out.read_bytes() == (BOOK / "train_data_prepared.jsonl").read_bytes()
    assert data.read_bytes() == before  # the input is never modified
    text = result.stdout
    # the book's analysis and actions, in order
    expected = [
        "- Your file contains 30 prompt-completion pairs. In general, we recommend having at least",
        "- Your data does not contain a common separator at the end of your prompts.",
        "- All prompts start with prefix `Book Summary: `. Fine-tuning doesn't require",
        "- All completions end with suffix `.`",
        "- The completion should start with a whitespace character (` `).",
        "- [Recommended] Add a suffix separator ` ->` to all prompts [Y/n]: Y",
        "- [Recommended] Remove prefix `Book Summary: ` from all prompts [Y/n]: Y",
        "- [Recommended] Add a whitespace character to the beginning of the completion [Y/n]: Y",
        "Your data will be written to a new JSONL file. Proceed [Y/n]: Y",
        "Wrote modified file to `",
        '> ftctl create -t "',
        "remember that your prompt has to end with the indicator string ` ->`",
        'Make sure to include `stop=["."]`',
    ]
    pos = 0
    for piece in expected:
        found = text.find(piece, pos)
        assert found >= 0, f"missing or out of order: {piece!r}"
        pos = found


def test_a_second_run_refuses_to_overwrite_and_names_the_command(tmp_path: Path) -> None:
    data = copy(tmp_path, "train_data.json", BOOK)
    assert run("-q", "-f", str(data)).exit_code == 0
    out = tmp_path / "train_data_prepared.jsonl"
    out.write_text("the user's edits\n")
    again = run("-q", str(data))
    assert again.exit_code == 2
    assert f"Error: {out}: the output file exists already" in again.stderr
    assert f'ftctl prepare -f "{data}" --force' in again.stderr
    assert out.read_text() == "the user's edits\n"  # nothing lost
    assert "[Y/n]" not in again.output  # refused before a single question
    assert prepared(tmp_path) == ["train_data_prepared.jsonl"]  # no `(1)` copies pile up
    forced = run("-q", "-f", str(data), "--force")
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() == (BOOK / "train_data_prepared.jsonl").read_bytes()
    elsewhere = tmp_path / "sub" / "book.jsonl"
    elsewhere.parent.mkdir()
    result = run("-q", "-f", str(data), "-o", str(elsewhere))
    assert result.exit_code == 0, result.output
    assert elsewhere.read_bytes() == out.read_bytes()
    assert f'> ftctl create -t "{elsewhere}" -m davinci-002' in result.stdout
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".part"))]


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        (
            "duplicates.jsonl",
            [
                "- There are 2 duplicated prompt-completion sets. These are rows: [20, 21]",
                "- [Recommended] Remove 2 duplicate rows [Y/n]: Y",
            ],
        ),
        (
            "long.jsonl",
            [
                "- There are 2 examples that are very long. These are rows: [3, 8]",
                "- [Recommended] Remove 2 long examples [Y/n]: Y",
            ],
        ),
        (
            "upper.jsonl",
            [
                "- More than a third of your `prompt` column/key is uppercase.",
                "- More than a third of your `completion` column/key is uppercase.",
                "- [Recommended] Lowercase all your data in column/key `prompt` [Y/n]: Y",
                "- [Recommended] Lowercase all your data in column/key `completion` [Y/n]: Y",
            ],
        ),
        (
            "long_suffix.jsonl",
            [
                "- All prompts end with suffix `\\n\\nTHE ANSWER IS:`. This suffix seems very "
                "long. Consider replacing with a shorter suffix, such as `\\n\\n###\\n\\n`",
                "- All completions end with suffix ` <<END OF ANSWER>>`. This suffix seems very "
                "long. Consider replacing with a shorter suffix, such as `\\n`",
            ],
        ),
        (
            "completion_prefix.jsonl",
            [
                "- All completions start with prefix ` Answer: `.",
                "- [Recommended] Remove prefix ` Answer: ` from all completions [Y/n]: Y",
            ],
        ),
        ("prompt_prefix_short.jsonl", ["- All prompts start with prefix `Title: `\n"]),
        (
            "columns.csv",
            [
                "- Based on your file extension, your file is formatted as a CSV file",
                "- The `prompt` column/key should be lowercase",
                "Additional columns/keys present are: ['id', 'prompt_note']",
                "WARNING: Some of the additional columns/keys contain `prompt` in their name.",
                "- `completion` column/key should not contain empty strings. "
                "These are rows: [0, 5, 10]",
                "- [Necessary] Your format `CSV` will be converted to `JSONL`",
                "- [Necessary] Lower case column name to `prompt`",
                "- [Necessary] Remove additional columns/keys: ['id', 'prompt_note']",
                "- [Necessary] Remove 3 rows with empty completions",
            ],
        ),
        (
            "data.tsv",
            [
                "- Based on your file extension, your file is formatted as a TSV file",
                "- [Necessary] Your format `TSV` will be converted to `JSONL`",
            ],
        ),
        (
            "plain.txt",
            [
                "- Based on your file extension, you provided a text file",
                "- `completion` column/key should not contain empty strings. These are rows: [12]",
                "- [Necessary] Your format `TXT` will be converted to `JSONL`",
            ],
        ),
        (
            "open_ended.jsonl",
            [
                "- Your file contains 12 prompt-completion pairs",
                "- The completion should start with a whitespace character",
            ],
        ),
        (
            "separators.jsonl",
            [
                "- [Recommended] Add a suffix separator `\\n\\n===\\n\\n` to all prompts",
                "- [Recommended] Add a suffix ending `+++` to all completions",
            ],
        ),
        (
            "repeated_suffix.jsonl",
            [
                "- All prompts end with suffix ` ->`\n  WARNING: Some of your prompts contain "
                "the suffix ` ->` more than once."
            ],
        ),
        ("escapes.jsonl", ['- All prompts start with prefix `a/b é 😀 "`']),
    ],
)
def test_checks_match_the_legacy_tool(tmp_path: Path, name: str, messages: list[str]) -> None:
    data = copy(tmp_path, name)
    result = run("-q", "-f", str(data))
    assert result.exit_code == 0, result.output
    for message in messages:
        assert message in result.stdout
    out = tmp_path / (data.stem + "_prepared.jsonl")
    assert out.read_bytes() == (EXPECTED / out.name).read_bytes()


def test_open_ended_data_skips_separator_and_ending_checks(tmp_path: Path) -> None:
    result = run("-q", str(copy(tmp_path, "open_ended.jsonl")))
    assert "separator" not in result.stdout
    assert "common ending" not in result.stdout
    assert "very long" not in result.stdout


def test_ready_data_writes_nothing(tmp_path: Path) -> None:
    data = copy(tmp_path, "ready.jsonl")
    result = run("-q", "-f", str(data))
    assert result.exit_code == 0
    assert "No remediations found." in result.stdout
    assert "You can use your file for fine-tuning:" in result.stdout
    assert f'> ftctl create -t "{data}" -m davinci-002' in result.stdout
    assert prepared(tmp_path) == []


def test_classification_is_detected_and_split(tmp_path: Path) -> None:
    data = copy(tmp_path, "classification.jsonl")
    result = run("-q", "-f", str(data))
    assert result.exit_code == 0, result.output
    assert "fine-tune a model for classification" in result.stdout
    assert "Would you like to split into training and validation set? [Y/n]: Y" in result.stdout
    # classification: no completion-ending check
    assert "common ending" not in result.stdout
    train = (tmp_path / "classification_prepared_train.jsonl").read_text().splitlines()
    valid = (tmp_path / "classification_prepared_valid.jsonl").read_text().splitlines()
    assert (len(train), len(valid)) == (24, 6)  # max(30 - 1000, int(0.8 * 30))
    source = [json.loads(line) for line in data.read_text().splitlines()]
    rows = [json.loads(line) for line in train + valid]
    assert sorted(map(str, rows)) == sorted(map(str, source))
    assert "-v" in result.stdout
    # seeded: a second run splits the same way
    again = tmp_path / "again"
    again.mkdir()
    run("-q", str(copy(again, "classification.jsonl")))
    assert (again / "classification_prepared_valid.jsonl").read_text() == "\n".join(valid) + "\n"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("identical_prompts.jsonl", "prompt: All prompts are identical: `same prompt`"),
        ("identical_completions.jsonl", "completion: All completions are identical: `same`"),
        ("missing_completion.jsonl", "completion: `completion` column/key is missing"),
    ],
)
def test_fatal_problems_exit_2(tmp_path: Path, name: str, message: str) -> None:
    data = copy(tmp_path, name)
    result = run("-q", "-f", str(data))
    assert result.exit_code == 2
    assert f"Error: {data}: {message}" in result.stderr
    assert "Traceback" not in result.output
    assert prepared(tmp_path) == []


def test_interactive_answers_are_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    data = copy(tmp_path, "train_data.json", BOOK)
    # keep the separator, refuse prefix removal, accept the space, then proceed
    result = run("-f", str(data), input="y\nn\n\n\n")
    assert result.exit_code == 0, result.output
    assert "[Y/n]: " in result.stderr  # questions go to stderr
    rows = [
        json.loads(x) for x in (tmp_path / "train_data_prepared.jsonl").read_text().splitlines()
    ]
    assert rows[0] == {
        "prompt": "Book Summary: The Adventure Begins ->",
        "completion": " A thrilling tale of courage and discovery.",
    }


def test_interactive_refusal_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    data = copy(tmp_path, "train_data.json", BOOK)
    result = run("-f", str(data), input="y\ny\ny\nn\n")
    assert result.exit_code == 0
    assert "Aborting... did not write the file" in result.stdout
    assert prepared(tmp_path) == []


def test_without_a_terminal_acts_as_quiet_and_says_so(tmp_path: Path) -> None:
    data = copy(tmp_path, "train_data.json", BOOK)
    result = run("-f", str(data))  # CliRunner's stdin is not a terminal
    assert result.exit_code == 0
    assert "stdin is not a terminal" in result.stderr
    assert (tmp_path / "train_data_prepared.jsonl").read_bytes() == (
        BOOK / "train_data_prepared.jsonl"
    ).read_bytes()


def test_xlsx_first_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["prompt", "completion"])
    for i in range(12):
        sheet.append([f"Question {i}?", f"Answer number {i}"])
    book.create_sheet("ignored").append(["prompt", "completion"])
    path = tmp_path / "sheet.xlsx"
    book.save(path)
    result = run("-q", str(path))
    assert result.exit_code == 0, result.output
    assert "formatted as an Excel file" in result.stdout
    assert "more than one sheet" in result.stdout
    rows = (tmp_path / "sheet_prepared.jsonl").read_text().splitlines()
    # as the legacy tool: prompts share the suffix `?`; the prefix `Answer number ` is removed
    assert rows[0] == '{"prompt":"Question 0?","completion":" 0\\n"}'
    assert len(rows) == 12


def test_json_lines_in_a_json_file_and_array_in_jsonl(tmp_path: Path) -> None:
    lines = tmp_path / "lines.json"
    lines.write_text(
        "".join(json.dumps({"prompt": f"p{i}", "completion": f" c{i}\n"}) + "\n" for i in range(12))
    )
    result = run("-q", str(lines))
    assert "Your JSON file appears to be in a JSONL format" in result.stdout
    assert "[Necessary] Your format `JSON` will be converted to `JSONL`" in result.stdout
    array = tmp_path / "array.jsonl"
    array.write_text(
        json.dumps([{"prompt": f"p{i}", "completion": f" c{i}\n"} for i in range(12)], indent=2)
    )
    result = run("-q", str(array))
    assert "Your JSONL file appears to be in a JSON format" in result.stdout
    assert (tmp_path / "array_prepared.jsonl").exists()


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ('{"prompt": "a", "completion": "b"}\n{"prompt": "a", \n', ".jsonl", ":2: not valid JSON"),
        ('[{"prompt": "a", "completion": "b"},\n {"prompt": 1 2}]', ".json", ":2: not valid JSON"),
        ("prompt,completion\na,b\nc,d,e\n", ".csv", ":3: expected 2 fields, saw 3"),
        ("x", ".docx", "unsupported file type (`.docx`)"),
    ],
)
def test_bad_input_is_one_line_with_the_place(
    tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    result = run("-q", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}")
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_missing_file(tmp_path: Path) -> None:
    result = run("-q", "-f", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_json_report_for_prompt_completion(tmp_path: Path) -> None:
    data = copy(tmp_path, "train_data.json", BOOK)
    result = run("--json", "-f", str(data))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["format"] == "prompt_completion"
    assert report["examples"] == 30
    assert report["errors"] == {}
    assert report["model"] == "davinci-002"
    assert report["n_epochs"] == 3
    assert report["tokens"]["total"] > 0
    assert report["billed_tokens"] == 3 * report["tokens"]["total"]
    assert report["estimated_cost_usd"] == round(report["billed_tokens"] * 6 / 1e6, 4)
    assert report["prepared_files"] == [str(tmp_path / "train_data_prepared.jsonl")]


def test_to_chat_converts_the_book(tmp_path: Path) -> None:
    data = copy(tmp_path, "train_data.json", BOOK)
    result = run("-q", "--to-chat", "--system", "You summarise books.", str(data))
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (tmp_path / "train_data_chat.jsonl").read_text().splitlines()]
    assert len(rows) == 30
    assert rows[0] == {
        "messages": [
            {"role": "system", "content": "You summarise books."},
            {"role": "user", "content": "Book Summary: The Adventure Begins"},
            {"role": "assistant", "content": "A thrilling tale of courage and discovery."},
        ]
    }
    assert "No errors found" in result.stdout


def test_to_chat_strips_separator_and_space(tmp_path: Path) -> None:
    prepared_book = copy(tmp_path, "train_data_prepared.jsonl", BOOK)
    result = run("-q", "--to-chat", str(prepared_book))
    assert result.exit_code == 0, result.output
    first = json.loads((tmp_path / "train_data_prepared_chat.jsonl").read_text().splitlines()[0])
    assert first["messages"] == [
        {"role": "user", "content": "The Adventure Begins"},
        {"role": "assistant", "content": "A thrilling tale of courage and discovery."},
    ]


def test_json_report_for_a_fatal_problem(tmp_path: Path) -> None:
    data = copy(tmp_path, "identical_prompts.jsonl")
    result = run("--json", str(data))
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["usable"] is False
    assert report["errors"] == {"identical_prompts": 1}
    assert report["problems"][0].startswith(f"{data}: prompt: All prompts are identical")


def test_no_tokens_checks_only(tmp_path: Path) -> None:
    data = copy(tmp_path, "train_data.json", BOOK)
    result = run("--json", "--no-tokens", str(data))
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["tokens"]["counted"] is False
    assert report["estimated_cost_usd"] is None
    assert (tmp_path / "train_data_prepared.jsonl").read_bytes() == (
        BOOK / "train_data_prepared.jsonl"
    ).read_bytes()
    text = run("-q", "--no-tokens", "--force", str(data)).stdout
    assert "Tokens not counted (--no-tokens)" in text


def test_mixed_formats_in_prompt_completion_data(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    rows = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(5)]
    lines = [json.dumps(r) for r in rows]
    lines.insert(3, json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
    path.write_text("\n".join(lines) + "\n")
    result = run("-q", str(path))
    assert result.exit_code == 2
    assert f"Error: {path}:4: a chat or preference example in a prompt/completion file" in (
        result.stderr
    )


def test_prompt_completion_for_a_chat_model_is_refused(tmp_path: Path) -> None:
    data = copy(tmp_path, "train_data.json", BOOK)
    result = run("-q", "-m", "gpt-4o-mini-2024-07-18", str(data))
    assert result.exit_code == 2
    assert "--to-chat" in result.stderr


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    result = run("-q", str(path))
    assert result.exit_code == 2
    assert f"Error: {path}: the file holds no examples" in result.stderr
