"""Bad files, as a hostile tester would hand them to `ftctl prepare` and to create's pre-check
(`check_training_file`): each gets a one-line error naming the file (and line), exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ftctl.cli.app import app
from ftctl.errors import InputError
from ftctl.prepare import check_training_file, files

CHAT_MODEL = "gpt-4o-mini-2024-07-18"
CHAT_LINE = json.dumps(
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
)
PC_LINE = json.dumps({"prompt": "Question ->", "completion": " answer."})


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["prepare", *args], catch_exceptions=False)


def one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture
def small_bound(monkeypatch: pytest.MonkeyPatch) -> int:
    """A line bound of 64 KiB, so a modest file stands for a 2 GB one."""
    monkeypatch.setattr(files, "MAX_LINE_BYTES", 64 << 10)
    return 64 << 10


@pytest.mark.parametrize("line", [CHAT_LINE, PC_LINE])
def test_a_line_over_the_bound_is_refused_by_number(
    tmp_path: Path, small_bound: int, line: str
) -> None:
    path = tmp_path / "data.jsonl"
    with path.open("w") as fh:
        fh.write((line + "\n") * 20)
        fh.write("x" * (small_bound * 40))  # line 21: 2.5 MB and no newline
    error = one_error_line(run("-q", "-m", CHAT_MODEL, str(path)))
    assert error.startswith(f"Error: {path}:21: the line is longer than 65,536 bytes")
    with pytest.raises(InputError, match=r"data\.jsonl:21: the line is longer"):
        check_training_file(path, CHAT_MODEL)


def test_a_long_line_inside_a_segment_is_found_too(tmp_path: Path, small_bound: int) -> None:
    path = tmp_path / "data.jsonl"
    long_content = "y" * (small_bound + 10)
    long_line = json.dumps({"messages": [{"role": "user", "content": long_content}]})
    path.write_text("\n".join([CHAT_LINE] * 5 + [long_line] + [CHAT_LINE] * 5) + "\n")
    with pytest.raises(InputError, match=r"data\.jsonl:6: the line is longer"):
        check_training_file(path, CHAT_MODEL)


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_long_lines_in_text_and_csv_files(tmp_path: Path, small_bound: int, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text("prompt,completion\na,b\n" + "z" * (small_bound * 3))
    error = one_error_line(run("-q", str(path)))
    assert error.startswith(f"Error: {path}:3: the line is longer than")


@pytest.mark.parametrize("line", [CHAT_LINE, PC_LINE])
def test_deep_nesting_is_a_clear_error_with_its_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "deep.jsonl"
    deep = '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + ', "completion": "x"}'
    path.write_text("\n".join([line] * 3 + [deep]) + "\n")
    result = run("--json", "-m", CHAT_MODEL, str(path))
    assert "RecursionError" not in result.output
    if line == PC_LINE:
        error = one_error_line(result)
        assert error == (
            f"Error: {path}:4: not valid JSON here: nested deeper than {files.MAX_DEPTH} levels"
        )
    check = check_training_file(path, CHAT_MODEL)
    assert any(
        p.startswith(f"{path}:4: not valid JSON here: nested deeper") for p in check.problems
    )


def test_nesting_under_the_bound_is_fine(tmp_path: Path) -> None:
    assert files.depth_problem("[" * files.MAX_DEPTH + "]" * files.MAX_DEPTH) is None
    assert files.depth_problem("[" * (files.MAX_DEPTH + 1) + "]" * (files.MAX_DEPTH + 1))
    brackets_in_strings = json.dumps({"prompt": "[" * 1000, "completion": "{" * 1000})
    assert files.depth_problem(brackets_in_strings) is None


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_bare_nan_and_infinity_are_not_json(tmp_path: Path, constant: str) -> None:
    path = tmp_path / "nan.jsonl"
    path.write_text(f"{PC_LINE}\n" + '{"prompt": "p", "completion": "c", "w": ' + constant + "}\n")
    error = one_error_line(run("-q", str(path)))
    assert error == f"Error: {path}:2: not valid JSON (`{constant}` is not a JSON value)"
    chat = tmp_path / "nan_chat.jsonl"
    chat.write_text(CHAT_LINE[:-1] + ', "weight": ' + constant + "}\n")
    check = check_training_file(chat, CHAT_MODEL)
    assert f"{chat}:1: not valid JSON (`{constant}` is not a JSON value) [invalid_json]" in (
        check.problems
    )


def test_nan_in_a_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_text('[{"prompt": "a", "completion": "b"},\n {"prompt": NaN, "completion": "c"}]')
    error = one_error_line(run("-q", str(path)))
    assert error == f"Error: {path}:2: not valid JSON (`NaN` is not a JSON value)"


def test_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "data.jsonl"
    folder.mkdir()
    assert one_error_line(run(str(folder))) == f"Error: {folder}: a directory, not a file"
    with pytest.raises(InputError, match="a directory, not a file"):
        check_training_file(folder, CHAT_MODEL)


def test_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "data.jsonl"
    os.mkfifo(fifo)
    error = one_error_line(run(str(fifo)))  # returns at once: a FIFO is never opened
    assert error.startswith(f"Error: {fifo}: a FIFO (named pipe), not a regular file")


def test_a_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop.jsonl"
    os.symlink(loop, loop)
    assert one_error_line(run(str(loop))) == f"Error: {loop}: a loop of symbolic links, not a file"


def test_a_missing_file(tmp_path: Path) -> None:
    gone = tmp_path / "gone.jsonl"
    assert one_error_line(run(str(gone))) == f"Error: {gone}: no such file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.jsonl"
    path.write_text(PC_LINE + "\n")
    path.chmod(0)
    error = one_error_line(run(str(path)))
    assert error == f"Error: {path}: permission denied (the file is not readable)"


def test_unreadable_is_refused_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root every file is readable: make open() fail the way it fails for other users."""
    path = tmp_path / "secret.jsonl"
    path.write_text(PC_LINE + "\n")
    real_open = open

    def refusing_open(file: object, *args: object, **kwargs: object) -> object:
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(InputError, match="permission denied") as caught:
        files.check_input_path(path)
    assert caught.value.exit_code == 2


def test_control_characters_in_file_names_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "evil\x1b[31mred\x07.jsonl"
    path.write_text('{"prompt": "a", \n')
    result = run("-q", str(path))
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "evil\\x1b[31mred\\x07.jsonl:1: not valid JSON" in result.stderr
    assert files.shown_path("plain name.jsonl") == "plain name.jsonl"
    assert files.shown_path("a\nb") == "a\\nb"
