"""`ftctl create` refusing local input as a newcomer meets it: the book's own JSON array, a
directory, a model that cannot be fine-tuned. Each refusal names the way forward, sends nothing,
and every `next:` it prints is a command that works (run_cli replays them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import RunCli
from tests.support.respx_api import Api

BOOK = Path(__file__).resolve().parent.parent / "fixtures" / "book"


@pytest.fixture(autouse=True)
def known_models(api: Api) -> None:
    api.route_model_lookups()


def test_the_books_json_array_is_sent_to_prepare(run_cli: RunCli, api: Api, tmp_path: Path) -> None:
    data = tmp_path / "train_data.json"
    shutil.copyfile(BOOK / "train_data.json", data)
    result = run_cli("create", "-t", str(data), "-m", "davinci-002", "--yes")
    assert result.exit_code == 2
    assert f"next: it is a JSON array, not JSON Lines: `ftctl prepare -f {data}`" in result.stderr
    assert "fix the lines listed above" not in result.stderr
    api.assert_no_requests()


def test_a_directory_is_called_a_directory(run_cli: RunCli, api: Api, tmp_path: Path) -> None:
    result = run_cli("create", "-t", str(tmp_path), "-m", "davinci-002", "--yes")
    assert result.exit_code == 2
    assert f"{tmp_path}: a directory, not a file" in result.stderr
    api.assert_no_requests()


def test_a_model_that_cannot_be_tuned_is_named_not_the_lines(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    data = tmp_path / "chat.jsonl"
    line = {
        "messages": [
            {"role": "user", "content": "What is 2 plus 2?"},
            {"role": "assistant", "content": "4."},
        ]
    }
    data.write_text((json.dumps(line) + "\n") * 10, encoding="utf-8")
    result = run_cli("create", "-t", str(data), "-m", "gpt-3.5-turbo-instruct", "--yes")
    assert result.exit_code == 2
    assert "[model_not_tunable]" in result.stderr
    assert "fix the lines listed above" not in result.stderr
    assert "next: choose a model that can be fine-tuned" in result.stderr
    api.assert_no_requests()


def test_a_suffix_over_the_apis_64_characters_is_refused_before_the_upload(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    data = tmp_path / "train.jsonl"
    shutil.copyfile(BOOK / "train_data_prepared.jsonl", data)
    result = run_cli("create", "-t", str(data), "-m", "davinci-002", "--suffix", "x" * 65, "--yes")
    assert result.exit_code == 2
    assert "--suffix: between 1 and 64 characters (the API's limit), got 65" in result.stderr
    api.assert_no_requests()


def test_a_method_the_data_contradicts_says_to_drop_it(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    data = tmp_path / "prefs.jsonl"
    shutil.copyfile(Path(__file__).parent / "data" / "prepare" / "dpo_ok.jsonl", data)
    model = "gpt-4o-mini-2024-07-18"
    result = run_cli("create", "-t", str(data), "-m", model, "--method", "supervised", "--yes")
    assert result.exit_code == 2
    assert "[wrong_method_for_data]" in result.stderr
    assert "next: drop --method and the data decides it" in result.stderr
    api.assert_no_requests()
