"""`ftctl prepare` tried as a new user would: every "next" works, one JSON shape, outputs that
follow the umask, questions that insist on an answer, text that fits the terminal, and --to-chat
that only says what it does."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ftctl.cli import _output
from ftctl.cli.app import app

DATA = Path(__file__).parent / "data" / "prepare"
BOOK = Path(__file__).parent.parent / "fixtures" / "book"
CHAT_MODEL = "gpt-4o-mini-2024-07-18"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, ["prepare", *args], input=input, catch_exceptions=False)


def book(tmp_path: Path) -> Path:
    target = tmp_path / "train_data.json"
    shutil.copy(BOOK / "train_data.json", target)
    return target


def next_command(text: str) -> list[str]:
    """The command of the `next: ` hint on stderr, as argv after `ftctl`."""
    hint = text.split("next: run `", 1)[1].split("`", 1)[0]
    argv = shlex.split(hint)
    assert argv[0] == "ftctl"
    return argv[1:]


def test_prompt_completion_for_a_chat_model_points_to_to_chat_and_it_works(
    tmp_path: Path,
) -> None:
    data = book(tmp_path)
    result = run("-f", str(data), "-m", CHAT_MODEL)
    assert result.exit_code == 2
    # no "you can use your file" before the refusal, and nothing written
    assert "You can use your file" not in result.stdout
    assert "ftctl create" not in result.output
    assert "[Recommended]" not in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train_data.json"]
    assert f"Error: {data}: prompt/completion data trains only" in result.stderr
    argv = next_command(result.stderr)
    assert argv == ["prepare", "-f", str(data), "--to-chat", "-m", CHAT_MODEL]
    converted = CliRunner().invoke(app, argv, catch_exceptions=False)
    assert converted.exit_code == 0, converted.output
    chat = tmp_path / "train_data_chat.jsonl"
    assert f'> ftctl create -t "{chat}" -m {CHAT_MODEL}' in converted.stdout


def test_one_json_shape_and_one_exit_rule(tmp_path: Path) -> None:
    data = book(tmp_path)
    shapes = {}
    runs = {
        "chat data": (["--json", str(DATA / "chat_ok.jsonl")], 0),
        "prompt/completion": (["--json", str(data)], 0),
        "for a chat model": (["--json", "-m", CHAT_MODEL, str(data)], 2),
        "to chat": (["--json", "--to-chat", str(data)], 0),
        "fatal check": (["--json", str(DATA / "identical_prompts.jsonl")], 2),
        "chat data rejected": (["--json", str(DATA / "chat_bad.jsonl")], 2),
    }
    for name, (args, code) in runs.items():
        result = run(*args)
        assert result.exit_code == code, (name, result.output)
        report = json.loads(result.stdout)
        shapes[name] = sorted(report)
        assert report["usable"] is (code == 0), name
        if code:
            assert result.stderr.strip(), name  # the problems, on stderr
    assert len({tuple(keys) for keys in shapes.values()}) == 1, shapes
    wrong = json.loads(run("--json", "-m", CHAT_MODEL, str(data)).stdout)
    assert wrong["errors"] == {"wrong_format_for_model": 1}
    assert wrong["next"] == [f'ftctl prepare -f "{data}" --to-chat -m {CHAT_MODEL}']


def test_outputs_are_created_with_the_umask(tmp_path: Path) -> None:
    data = book(tmp_path)
    old = os.umask(0o022)
    try:
        assert run("-q", str(data)).exit_code == 0
        assert run("-q", "--to-chat", str(data)).exit_code == 0
    finally:
        os.umask(old)
    for name in ("train_data_prepared.jsonl", "train_data_chat.jsonl"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_an_invalid_answer_is_asked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    data = book(tmp_path)
    # "maybe" is not an answer: the separator question comes again, then "no" refuses it
    result = run("-f", str(data), input="maybe\nno\n\n\n\n")
    assert result.exit_code == 0, result.output
    assert "Please answer y or n (not 'maybe')." in result.stderr
    assert result.stderr.count("Add a suffix separator ` ->` to all prompts [Y/n]: ") == 2
    first = json.loads((tmp_path / "train_data_prepared.jsonl").read_text().splitlines()[0])
    assert not first["prompt"].endswith(" ->")  # the separator was refused


def test_long_lines_wrap_to_the_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_output, "stdout_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "60")
    data = book(tmp_path)
    result = run("-q", str(data))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    long = [line for line in lines if len(line) > 60 and not line.startswith("> ")]
    assert [line for line in long if " " in line.strip()] == []  # only unbreakable words
    assert "- Your file contains 30 prompt-completion pairs. In general," in lines
    assert "  every doubling of the number of examples" in lines
    monkeypatch.undo()
    piped = run("-q", "--force", str(data))  # not a terminal: one line per message
    assert any(len(line) > 200 for line in piped.stdout.splitlines())


def test_to_chat_gives_no_advice_it_does_not_apply(tmp_path: Path) -> None:
    data = book(tmp_path)
    result = run("--to-chat", str(data))
    assert result.exit_code == 0, result.output
    for advice in ("[Recommended]", "separator", "whitespace character", "prefix", "suffix"):
        assert advice not in result.stdout, advice
    assert "- Your file contains 30 prompt-completion pairs" in result.stdout
    assert "Wrote chat data to `" in result.stdout
    assert "stdin is not a terminal" not in result.stderr  # nothing is asked


def test_every_next_command_runs(tmp_path: Path) -> None:
    """The `> ftctl prepare ...` and `next:` commands printed exit 0 when run (`ftctl create`
    reaches the API and is covered by the create tests)."""
    data = book(tmp_path)
    first = run("-q", str(data))
    assert first.exit_code == 0
    refused = run("-q", str(data))
    assert refused.exit_code == 2
    hint = refused.stderr.split("replace it with `", 1)[1].split("`", 1)[0]
    rerun = CliRunner().invoke(app, shlex.split(hint)[1:], catch_exceptions=False)
    assert rerun.exit_code == 0, rerun.output


def test_the_input_is_never_an_output(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    shutil.copy(DATA / "duplicates.jsonl", data)
    before = data.read_bytes()
    result = run("-q", "--force", "-o", str(data), str(data))
    assert result.exit_code == 2
    assert f"Error: {data}: that is the input file; prepare never writes over it" in result.stderr
    assert data.read_bytes() == before
    nowhere = run("-q", "-o", str(tmp_path / "no" / "out.jsonl"), str(data))
    assert nowhere.exit_code == 2
    assert f"Error: {tmp_path / 'no'}: no such directory for the output" in nowhere.stderr
