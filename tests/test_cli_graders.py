"""`ftctl graders validate|run`: against recorded-shape fixtures (respx), then against the mock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.support.cli import RunCli
from tests.support.mock_server import running_mock
from tests.support.respx_api import Api, fixture_json, request_json

VALIDATE = "/fine_tuning/alpha/graders/validate"
RUN = "/fine_tuning/alpha/graders/run"
Run = Callable[..., Result]
EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


@pytest.fixture
def grader_file(tmp_path: Path) -> Path:
    path = tmp_path / "grader.json"
    path.write_text(json.dumps(EXACT, indent=2) + "\n", encoding="utf-8")
    return path


def test_validate_sends_the_grader_and_says_it_is_valid(
    run_cli: RunCli, api: Api, grader_file: Path
) -> None:
    api.route_fixture("POST", VALIDATE, "graders/validated")
    result = run_cli("graders", "validate", str(grader_file))
    assert result.exit_code == 0, result.output
    assert result.stdout == "valid: string_check grader 'exact'\n"
    assert request_json(api.request("POST", VALIDATE)) == {"grader": EXACT}


def test_validate_takes_a_request_body_file_too(run_cli: RunCli, api: Api, tmp_path: Path) -> None:
    api.route_fixture("POST", VALIDATE, "graders/validated")
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"grader": EXACT}), encoding="utf-8")
    result = run_cli("graders", "validate", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("graders/validated")
    assert request_json(api.request("POST", VALIDATE)) == {"grader": EXACT}


def test_validate_prints_the_services_refusal(run_cli: RunCli, api: Api, grader_file: Path) -> None:
    api.route_fixture("POST", VALIDATE, "graders/invalid_operation")
    result = run_cli("graders", "validate", str(grader_file))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Invalid value: 'equals'. Supported values are: 'eq', 'ne', 'like', and 'ilike'." in (
        result.stderr
    )
    assert "HTTP 400" in result.stderr
    assert "param grader.operation" in result.stderr  # the field, as the README promises


def test_a_grader_file_that_is_not_json_is_refused_with_file_and_line(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    path = tmp_path / "grader.json"
    path.write_text('{\n  "type": "string_check",\n  "name": exact\n}\n', encoding="utf-8")
    result = run_cli("graders", "validate", str(path))
    assert result.exit_code == 2
    assert f"{path}:3: not valid JSON" in result.stderr
    api.assert_no_requests()


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]", "a grader must be a JSON object, not list"), ('{"name": "x"}', "needs a `type`")],
)
def test_a_grader_file_that_is_not_a_grader_is_refused(
    run_cli: RunCli, api: Api, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "grader.json"
    path.write_text(content, encoding="utf-8")
    result = run_cli("graders", "run", str(path), "--sample", "x")
    assert result.exit_code == 2
    assert message in result.stderr
    api.assert_no_requests()


def test_a_missing_grader_file_is_named(run_cli: RunCli, api: Api, tmp_path: Path) -> None:
    result = run_cli("graders", "validate", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert "nope.json: No such file or directory" in result.stderr


def test_run_prints_the_reward_and_sends_item_and_sample(
    run_cli: RunCli, api: Api, grader_file: Path
) -> None:
    api.route_fixture("POST", RUN, "graders/run_pass")
    result = run_cli(
        "graders", "run", str(grader_file), "--item", '{"answer": "Paris"}', "--sample", "Paris"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "reward: 1.0\n"
    assert request_json(api.request("POST", RUN)) == {
        "grader": EXACT,
        "model_sample": "Paris",
        "item": {"answer": "Paris"},
    }


def test_run_reads_item_and_sample_from_files(
    run_cli: RunCli, api: Api, grader_file: Path, tmp_path: Path
) -> None:
    api.route_fixture("POST", RUN, "graders/run_fail")
    (tmp_path / "item.json").write_text('{"answer": "Paris"}\n', encoding="utf-8")
    (tmp_path / "sample.txt").write_text("Lyon\n", encoding="utf-8")
    result = run_cli(
        "graders",
        "run",
        str(grader_file),
        "--item",
        f"@{tmp_path / 'item.json'}",
        "--sample",
        f"@{tmp_path / 'sample.txt'}",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "reward: 0.0\n"
    sent = request_json(api.request("POST", RUN))
    assert sent["model_sample"] == "Lyon"  # the file's final newline is not part of the sample
    assert sent["item"] == {"answer": "Paris"}


def test_run_without_item_sends_none(run_cli: RunCli, api: Api, grader_file: Path) -> None:
    api.route_fixture("POST", RUN, "graders/run_missing_field")
    result = run_cli("graders", "run", str(grader_file), "--sample", "Paris")
    assert "item" not in request_json(api.request("POST", RUN))
    assert result.exit_code == 1
    assert result.stdout == "reward: 0.0\n"
    assert "the grader reported invalid_variable_error" in result.stderr
    assert "give --item every {{item.*}} field" in result.stderr


def test_run_prints_sub_rewards(run_cli: RunCli, api: Api, grader_file: Path) -> None:
    api.route_fixture("POST", RUN, "graders/run_multi")
    result = run_cli("graders", "run", str(grader_file), "--sample", "Pariss", "--item", "{}")
    assert result.exit_code == 0, result.output
    assert result.stdout == "reward: 0.454545\n  exact  0.0\n  close  0.909091\n"


def test_run_json_prints_the_api_object_verbatim(
    run_cli: RunCli, api: Api, grader_file: Path
) -> None:
    api.route_fixture("POST", RUN, "graders/run_multi")
    result = run_cli("graders", "run", str(grader_file), "--sample", "Pariss", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("graders/run_multi")


def test_run_refuses_an_item_that_is_not_json(run_cli: RunCli, api: Api, grader_file: Path) -> None:
    result = run_cli("graders", "run", str(grader_file), "--item", "answer=Paris", "--sample", "x")
    assert result.exit_code == 2
    assert "--item:1: not valid JSON" in result.stderr
    api.assert_no_requests()


# -- against the mock on loopback ------------------------------------------------------------


@pytest.fixture
def mock_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    from ftctl.cli.app import app

    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ORGANIZATION"):
        monkeypatch.delenv(name, raising=False)
    with running_mock() as url:
        env = {"OPENAI_API_KEY": "sk-mock-graders", "OPENAI_BASE_URL": url, "NO_COLOR": "1"}

        def run(*args: str) -> Result:
            return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

        yield run


def test_with_the_mock_validate_accepts_a_good_grader_and_refuses_a_broken_one(
    mock_cli: Run, grader_file: Path, tmp_path: Path
) -> None:
    good = mock_cli("graders", "validate", str(grader_file))
    assert good.exit_code == 0, good.output
    assert good.stdout == "valid: string_check grader 'exact'\n"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**EXACT, "reference": "{{ answer }}"}), encoding="utf-8")
    refused = mock_cli("graders", "validate", str(broken))
    assert refused.exit_code == 1
    assert "Invalid template in 'grader.reference'" in refused.stderr
    assert "unknown namespace 'answer'" in refused.stderr


def test_with_the_mock_run_gives_one_for_a_match_and_zero_for_a_wrong_sample(
    mock_cli: Run, grader_file: Path
) -> None:
    item = '{"answer": "Paris"}'
    right = mock_cli("graders", "run", str(grader_file), "--item", item, "--sample", "Paris")
    wrong = mock_cli("graders", "run", str(grader_file), "--item", item, "--sample", "Lyon")
    assert (right.exit_code, right.stdout) == (0, "reward: 1.0\n")
    assert (wrong.exit_code, wrong.stdout) == (0, "reward: 0.0\n")


def test_with_the_mock_a_json_grader_on_plain_text_says_to_send_json(
    mock_cli: Run, tmp_path: Path
) -> None:
    path = tmp_path / "json_grader.json"
    path.write_text(json.dumps({**EXACT, "input": "{{sample.output_json.city}}"}), "utf-8")
    item = '{"answer": "Paris"}'
    text = mock_cli("graders", "run", str(path), "--item", item, "--sample", "Paris")
    assert text.exit_code == 1
    assert "sample_parse_error" in text.stderr
    assert "give --sample as JSON" in text.stderr
    as_json = mock_cli("graders", "run", str(path), "--item", item, "--sample", '{"city": "Paris"}')
    assert (as_json.exit_code, as_json.stdout) == (0, "reward: 1.0\n")


def test_an_at_sign_alone_names_no_file(run_cli: RunCli, api: Api, grader_file: Path) -> None:
    result = run_cli("graders", "run", str(grader_file), "--sample", "@")
    assert result.exit_code == 2
    assert "--sample @ names no file" in result.stderr
    api.assert_no_requests()
