"""`ftctl create` for every method: the method follows the data (preference lines: dpo; a grader:
reinforcement) or --method, which the data may not contradict; method hyperparameters in
`method.<type>.hyperparameters`, checked against the API's ranges; the grader and W&B integration
in the body; the cost line for each method; and first contact (key, model) before anything is
asked or uploaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import openapi_check
from tests.support.cli import RunCli
from tests.support.respx_api import Api, json_response, request_json

DPO_MODEL = "gpt-4o-mini-2024-07-18"
RFT_MODEL = "o4-mini-2025-04-16"
NO_FILES = {"object": "list", "data": [], "has_more": False}


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _preference(n: int) -> list[dict[str, object]]:
    return [
        {
            "input": {"messages": [{"role": "user", "content": f"Say hello, number {i}."}]},
            "preferred_output": [{"role": "assistant", "content": f"Hello {i}!"}],
            "non_preferred_output": [{"role": "assistant", "content": "Go away."}],
        }
        for i in range(n)
    ]


def _chat(n: int) -> list[dict[str, object]]:
    return [
        {
            "messages": [
                {"role": "user", "content": f"What is {i} plus {i}?"},
                {"role": "assistant", "content": f"{2 * i}."},
            ]
        }
        for i in range(n)
    ]


def _reinforcement(n: int) -> list[dict[str, object]]:
    return [
        {
            "messages": [{"role": "user", "content": f"What is {i} plus {i}? Answer digits only."}],
            "answer": str(2 * i),
        }
        for i in range(n)
    ]


STRING_CHECK = {
    "type": "string_check",
    "name": "exact answer",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
SCORE_MODEL = {
    "type": "score_model",
    "name": "judge",
    "model": "gpt-4o-2024-08-06",
    "input": [{"role": "user", "content": "Score {{sample.output_text}} against {{item.answer}}"}],
    "range": [0, 1],
}


@pytest.fixture
def preference_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "prefs.jsonl", _preference(12))


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "chat.jsonl", _chat(12))


@pytest.fixture
def rft_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "rft.jsonl", _reinforcement(12))


@pytest.fixture
def grader_file(tmp_path: Path) -> Path:
    path = tmp_path / "grader.json"
    path.write_text(json.dumps(STRING_CHECK), encoding="utf-8")
    return path


@pytest.fixture
def service(api: Api) -> Api:
    """The service as create meets it: the model lookup, the upload, the job."""
    api.route_model_lookups()
    api.route_response("GET", "/files", json_response(200, NO_FILES))  # nothing to reuse
    api.route_fixture("POST", "/files", "files/uploaded")
    api.route_fixture("POST", "/fine_tuning/jobs", "jobs/created")
    return api


def _job_body(api: Api) -> dict[str, object]:
    body = request_json(api.request("POST", "/fine_tuning/jobs"))
    openapi_check.validate_request("createFineTuningJob", body)
    assert isinstance(body, dict)
    return body


def _create(run_cli: RunCli, *args: str) -> tuple[int, str, str]:
    result = run_cli("create", *args, "--no-follow", "--yes")
    return result.exit_code, result.stdout, result.stderr


# -- the method follows the data ------------------------------------------------------------------


def test_preference_data_makes_a_dpo_job_with_beta(
    run_cli: RunCli, service: Api, preference_file: Path
) -> None:
    code, _, err = _create(
        run_cli, "-t", str(preference_file), "-m", DPO_MODEL, "--beta", "0.1", "--n-epochs", "2"
    )
    assert code == 0, err
    body = _job_body(service)
    assert body["method"] == {
        "type": "dpo",
        "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.1}},
    }
    assert "hyperparameters" not in body
    assert "12 preference examples" in err
    assert "(dpo, billed per training token)" in err
    assert "(dpo)" in err.splitlines()[-1]  # "Created fine-tuning job: ftjob-... (dpo)"


def test_a_grader_makes_a_reinforcement_job(
    run_cli: RunCli, service: Api, rft_file: Path, grader_file: Path
) -> None:
    code, _, err = _create(
        run_cli,
        *("-t", str(rft_file), "-m", RFT_MODEL, "--grader", str(grader_file)),
        *("--reasoning-effort", "low", "--compute-multiplier", "1.5"),
        *("--eval-interval", "5", "--eval-samples", "3"),
    )
    assert code == 0, err
    body = _job_body(service)
    assert body["method"] == {
        "type": "reinforcement",
        "reinforcement": {
            "grader": STRING_CHECK,
            "hyperparameters": {
                "reasoning_effort": "low",
                "compute_multiplier": 1.5,
                "eval_interval": 5,
                "eval_samples": 3,
            },
        },
    }
    cost = next(line for line in err.splitlines() if line.startswith(str(rft_file)))
    assert "12 reinforcement examples" in cost
    assert "billed by training time, not tokens: $100.00 per hour of training" in cost
    assert "(prices of 2025-05)" in cost
    assert "this grader calls no model" in cost
    assert "eval interval 5" in cost and "eval samples 3" in cost


def test_a_model_grader_says_its_tokens_are_billed(
    run_cli: RunCli, service: Api, rft_file: Path, tmp_path: Path
) -> None:
    grader = tmp_path / "judge.json"
    grader.write_text(json.dumps(SCORE_MODEL), encoding="utf-8")
    code, _, err = _create(run_cli, "-t", str(rft_file), "-m", "o4-mini", "--grader", str(grader))
    assert code == 0, err
    assert "plus the tokens of the model grader (gpt-4o-2024-08-06) at that model's rates" in err


def test_chat_data_without_a_method_stays_supervised(
    run_cli: RunCli, service: Api, chat_file: Path
) -> None:
    code, _, err = _create(run_cli, "-t", str(chat_file), "-m", DPO_MODEL)
    assert code == 0, err
    assert _job_body(service)["method"] == {"type": "supervised", "supervised": {}}


def test_explicit_method_matching_the_data(
    run_cli: RunCli, service: Api, preference_file: Path
) -> None:
    code, _, err = _create(run_cli, "-t", str(preference_file), "-m", DPO_MODEL, "--method", "dpo")
    assert code == 0, err
    assert _job_body(service)["method"] == {"type": "dpo", "dpo": {}}


# -- refused before anything is uploaded ------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "args"),
    [
        ("preference", ["--method", "supervised"]),
        ("chat", ["--method", "dpo"]),
        ("preference", ["--method", "reinforcement", "--grader", "GRADER"]),
    ],
)
def test_a_method_the_data_contradicts_is_refused_naming_file_and_line(
    run_cli: RunCli,
    api: Api,
    preference_file: Path,
    chat_file: Path,
    grader_file: Path,
    data: str,
    args: list[str],
) -> None:
    path = preference_file if data == "preference" else chat_file
    model = RFT_MODEL if "reinforcement" in args else DPO_MODEL
    args = [str(grader_file) if a == "GRADER" else a for a in args]
    code, out, err = _create(run_cli, "-t", str(path), "-m", model, *args)
    assert code == 2, err
    assert out == ""
    assert f"{path}:1:" in err
    assert "nothing was uploaded" in err
    api.assert_no_requests()


def test_reinforcement_lines_must_end_with_a_user_turn(
    run_cli: RunCli, api: Api, chat_file: Path, grader_file: Path
) -> None:
    code, _, err = _create(
        run_cli, "-t", str(chat_file), "-m", RFT_MODEL, "--grader", str(grader_file)
    )
    assert code == 2
    assert f"{chat_file}:1:" in err
    assert "user turn" in err
    api.assert_no_requests()


@pytest.mark.parametrize(
    ("model", "args", "message"),
    [
        (DPO_MODEL, ["--method", "reinforcement", "--grader", "GRADER"], "reinforcement runs on"),
        ("gpt-3.5-turbo-0125", ["--method", "dpo"], "does not offer the dpo method"),
        (RFT_MODEL, ["--method", "supervised"], "does not offer the supervised method"),
        ("gpt-3.5-turbo-instruct", [], "cannot be fine-tuned"),
    ],
)
def test_a_method_the_model_does_not_offer_is_refused_first(
    run_cli: RunCli,
    api: Api,
    chat_file: Path,
    grader_file: Path,
    model: str,
    args: list[str],
    message: str,
) -> None:
    args = [str(grader_file) if a == "GRADER" else a for a in args]
    code, _, err = _create(run_cli, "-t", str(chat_file), "-m", model, *args)
    assert code == 2, err
    assert message in err
    api.assert_no_requests()


def test_preference_data_on_a_model_without_dpo(
    run_cli: RunCli, api: Api, preference_file: Path
) -> None:
    code, _, err = _create(run_cli, "-t", str(preference_file), "-m", "gpt-3.5-turbo-0125")
    assert code == 2
    assert "dpo" in err
    api.assert_no_requests()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--beta", "0"], "--beta: beta must be greater than 0 and at most 2"),
        (["--beta", "2.5"], "--beta: beta must be greater than 0 and at most 2"),
        (["--compute-multiplier", "11"], "--compute-multiplier: compute_multiplier must be"),
        (["--compute-multiplier", "0"], "greater than 1e-05 and at most 10"),
        (["--eval-interval", "0"], "--eval-interval: eval_interval must be at least 1"),
        (["--eval-samples", "0"], "--eval-samples: eval_samples must be at least 1"),
        (["--reasoning-effort", "extreme"], "must be one of default, low, medium, high"),
        (["--learning-rate-multiplier", "0"], "must be greater than 0"),
        (["--beta", "0.5", "--grader", "GRADER"], "--beta: beta is a dpo hyperparameter"),
        (["--eval-samples", "3"], "eval_samples is a reinforcement hyperparameter, not supervised"),
        (["--method", "fancy"], "unknown --method 'fancy'"),
        (["--method", "reinforcement"], "--method reinforcement needs a grader"),
        (["--method", "dpo", "--grader", "GRADER"], "--grader is for reinforcement jobs"),
    ],
)
def test_flags_out_of_the_apis_range_are_refused(
    run_cli: RunCli,
    api: Api,
    chat_file: Path,
    grader_file: Path,
    args: list[str],
    message: str,
) -> None:
    args = [str(grader_file) if a == "GRADER" else a for a in args]
    model = RFT_MODEL if "--grader" in args or "--compute-multiplier" in args else DPO_MODEL
    model = RFT_MODEL if any(a.startswith(("--eval-i", "--reas")) for a in args) else model
    code, out, err = _create(run_cli, "-t", str(chat_file), "-m", model, *args)
    assert code == 2, err
    assert out == ""
    assert message in err
    api.assert_no_requests()


@pytest.mark.parametrize(
    ("content", "where", "message"),
    [
        ('{"type": "string_check",\n "name": }', ":2:", "not valid JSON"),
        ("[1, 2]", ": ", "a grader is a JSON object"),
        ('{"name": "x"}', ": type:", "grader type missing"),
        ('{"type": "label_model"}', ": type:", "grader type 'label_model'"),
    ],
)
def test_a_bad_grader_file_is_refused(
    run_cli: RunCli,
    api: Api,
    rft_file: Path,
    tmp_path: Path,
    content: str,
    where: str,
    message: str,
) -> None:
    grader = tmp_path / "bad.json"
    grader.write_text(content, encoding="utf-8")
    code, _, err = _create(run_cli, "-t", str(rft_file), "-m", RFT_MODEL, "--grader", str(grader))
    assert code == 2
    first = err.splitlines()[0]
    assert first.startswith(f"Error: {grader}{where}"), first
    assert message in first
    api.assert_no_requests()


# -- first contact --------------------------------------------------------------------------------


def test_a_model_the_service_does_not_know_is_refused_before_upload(
    run_cli: RunCli, api: Api, chat_file: Path
) -> None:
    api.route_model_lookups(missing=["gpt-4o-mini-2099-01-01"])
    code, _, err = _create(run_cli, "-t", str(chat_file), "-m", "gpt-4o-mini-2099-01-01")
    assert code == 2
    assert "model 'gpt-4o-mini-2099-01-01' is not available to this key" in err
    assert "next: `ftctl models list`" in err
    assert api.summary() == ["GET /v1/models/gpt-4o-mini-2099-01-01"]  # no orphan upload


def test_no_key_is_found_before_asking(
    run_cli: RunCli,
    api: Api,
    chat_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ftctl.cli import _output

    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    result = run_cli("create", "-t", str(chat_file), "-m", DPO_MODEL, input="y\n")
    assert result.exit_code == 2
    assert "no API key" in result.stderr
    assert "Upload and start training?" not in result.stderr
    api.assert_no_requests()


# -- Weights & Biases -----------------------------------------------------------------------------


def test_wandb_integration_is_sent(run_cli: RunCli, service: Api, chat_file: Path) -> None:
    code, _, err = _create(
        run_cli,
        *("-t", str(chat_file), "-m", DPO_MODEL, "--wandb-project", "book-summaries"),
        *("--wandb-entity", "acme", "--wandb-name", "run-1"),
        *("--wandb-tag", "ftctl", "--wandb-tag", "a" * 40),
    )
    assert code == 0, err
    assert _job_body(service)["integrations"] == [
        {
            "type": "wandb",
            "wandb": {
                "project": "book-summaries",
                "entity": "acme",
                "name": "run-1",
                "tags": ["ftctl", "a" * 40],
            },
        }
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--wandb-project", "p", "--wandb-tag", "sk-proj-abcdefghijklmnopqrstuvwx"],
        ["--wandb-project", "p", "--wandb-name", "run-sk-test-SECRET-123"],
    ],
)
def test_a_secret_looking_wandb_value_is_refused_unshown(
    run_cli: RunCli, api: Api, chat_file: Path, args: list[str]
) -> None:
    code, out, err = _create(run_cli, "-t", str(chat_file), "-m", DPO_MODEL, *args)
    assert code == 2
    assert "looks like a secret" in err
    assert "abcdefghijkl" not in out + err
    api.assert_no_requests()


def test_wandb_details_need_a_project(run_cli: RunCli, api: Api, chat_file: Path) -> None:
    code, _, err = _create(run_cli, "-t", str(chat_file), "-m", DPO_MODEL, "--wandb-tag", "x")
    assert code == 2
    assert "need --wandb-project" in err
    api.assert_no_requests()


def test_prompt_completion_data_for_a_chat_model_points_to_to_chat(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    """The next step is the conversion (replayed by run_cli: it must work), not a loop back."""
    rows = [{"prompt": f"Book {i} ->", "completion": f" Summary {i}."} for i in range(12)]
    path = _write(tmp_path / "book.jsonl", rows)
    code, _, err = _create(run_cli, "-t", str(path), "-m", DPO_MODEL)
    assert code == 2
    assert f"for {DPO_MODEL}: `ftctl prepare -f {path} --to-chat -m {DPO_MODEL}`" in err
    api.assert_no_requests()
