"""`ftctl complete`: which endpoint each model uses, the request body, only the generated text on
stdout, streaming, prompts from stdin, and refusals before any request."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support import openapi_check
from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json, fixture_response, load_fixture, request_json

FT_DAVINCI = "ft:davinci-002:acme:sarcasm:9XyZaBcD"
FT_CHAT = "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12"


def _completion_body(api: Api) -> dict[str, object]:
    body = request_json(api.request("POST", "/completions"))
    openapi_check.validate_request("createCompletion", body)
    assert isinstance(body, dict)
    return body


def _chat_body(api: Api) -> dict[str, object]:
    body = request_json(api.request("POST", "/chat/completions"))
    openapi_check.validate_request("createChatCompletion", body)
    assert isinstance(body, dict)
    return body


# -- endpoints and bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("model", [FT_DAVINCI, "davinci-002", "babbage-002"])
def test_completion_models_use_v1_completions(run_cli: RunCli, api: Api, model: str) -> None:
    api.route_fixture("POST", "/completions", "completions/fine_tuned")
    result = run_cli("complete", "-m", model, "It's Monday.")
    assert result.exit_code == 0, result.output
    assert result.stdout == " Oh great, another Monday.\n"  # only the generated text
    assert result.stderr == ""
    assert _completion_body(api) == {"model": model, "prompt": "It's Monday."}


def test_recorded_instruct_completion(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/completions", "completions/instruct")
    result = run_cli(
        "complete", "-m", "gpt-3.5-turbo-instruct", "-p", "Once upon a time", "--max-tokens", "5"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ", there stood a wizard\n"
    assert _completion_body(api) == {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Once upon a time",
        "max_tokens": 5,
    }


@pytest.mark.parametrize("model", [FT_CHAT, "gpt-4o-mini-2024-07-18"])
def test_chat_models_use_v1_chat_completions(run_cli: RunCli, api: Api, model: str) -> None:
    api.route_fixture("POST", "/chat/completions", "chat/completion")
    result = run_cli("complete", "-m", model, "It's Monday.")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Oh sure, because Mondays are everyone's favourite.\n"
    assert _chat_body(api) == {
        "model": model,
        "messages": [{"role": "user", "content": "It's Monday."}],
    }
    assert not api.requests("POST", "/completions")


def test_chat_flags(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/chat/completions", "chat/completion")
    result = run_cli(
        "complete",
        "-m",
        FT_CHAT,
        "-p",
        "It's Monday.",
        "--system",
        "Marv is sarcastic.",
        "--max-tokens",
        "20",
        "--temperature",
        "0.2",
        "--stop",
        "END",
        "-n",
        "1",
    )
    assert result.exit_code == 0, result.output
    body = _chat_body(api)
    assert body["messages"] == [
        {"role": "system", "content": "Marv is sarcastic."},
        {"role": "user", "content": "It's Monday."},
    ]
    assert body["max_completion_tokens"] == 20
    assert "max_tokens" not in body
    assert body["temperature"] == 0.2
    assert body["stop"] == "END"
    assert body["n"] == 1


def test_completion_flags_and_n_choices_in_index_order(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/completions", "completions/fine_tuned_n2")
    result = run_cli(
        "complete",
        "-m",
        FT_DAVINCI,
        "Say it",
        "--max-tokens",
        "4",
        "--temperature",
        "1.5",
        "--stop",
        "\\n",
        "--stop",
        "###",
        "-n",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == " first\n second\n"
    assert _completion_body(api) == {
        "model": FT_DAVINCI,
        "prompt": "Say it",
        "max_tokens": 4,
        "temperature": 1.5,
        "stop": ["\n", "###"],
        "n": 2,
    }


def test_json_prints_the_response_verbatim(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/chat/completions", "chat/completion")
    result = run_cli("complete", "-m", FT_CHAT, "hi", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fixture_json("chat/completion")


# -- the prompt --------------------------------------------------------------------------------


def test_prompt_dash_reads_stdin(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/completions", "completions/fine_tuned")
    result = run_cli("complete", "-m", FT_DAVINCI, "-", input="from a pipe\n")
    assert result.exit_code == 0, result.output
    assert _completion_body(api)["prompt"] == "from a pipe\n"


def test_no_prompt_reads_piped_stdin(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/completions", "completions/fine_tuned")
    result = run_cli("complete", "-m", FT_DAVINCI, input="piped")
    assert result.exit_code == 0, result.output
    assert _completion_body(api)["prompt"] == "piped"


def test_prompt_twice_is_a_usage_error(run_cli: RunCli, api: Api) -> None:
    result = run_cli("complete", "-m", FT_DAVINCI, "one", "-p", "two")
    assert result.exit_code == 2
    api.assert_no_requests()


@pytest.mark.parametrize(
    "args",
    [
        ["complete", "hi"],  # no model
        ["complete", "-m", FT_DAVINCI, "hi", "--system", "no system for completions"],
        ["complete", "-m", FT_DAVINCI, "hi", *["--stop", "a"] * 5],
        ["complete", "-m", FT_DAVINCI, "hi", "--temperature", "3"],
        ["complete", "-m", FT_DAVINCI, "hi", "--max-tokens", "0"],
    ],
)
def test_usage_errors_send_nothing(run_cli: RunCli, api: Api, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    api.assert_no_requests()


@pytest.mark.parametrize(
    ("model", "replacement"),
    [
        ("davinci", "davinci-002"),
        ("curie", "davinci-002"),
        ("babbage", "babbage-002"),
        ("ada", "babbage-002"),
        ("ft:davinci:acme:2023-01-01", "davinci-002"),
        ("text-davinci-002", "gpt-3.5-turbo-instruct"),  # older tutorials' engine
        ("code-davinci-002", "gpt-3.5-turbo-instruct"),
    ],
)
def test_retired_models_are_refused_before_any_request(
    run_cli: RunCli, api: Api, model: str, replacement: str
) -> None:
    result = run_cli("complete", "-m", model, "hello")
    assert result.exit_code == 2
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: ") and replacement in first
    api.assert_no_requests()


# -- streaming -----------------------------------------------------------------------------------


def test_stream_completion(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/completions", "completions/stream")
    result = run_cli("complete", "-m", FT_DAVINCI, "Tell me", "--stream")
    assert result.exit_code == 0, result.output
    assert result.stdout == " Once upon a time\n"
    assert _completion_body(api)["stream"] is True


def test_stream_chat_recorded(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/chat/completions", "chat/stream")
    result = run_cli("complete", "-m", "gpt-3.5-turbo", "Hello!", "--stream")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello! How can I assist you today?\n"
    assert _chat_body(api)["stream"] is True


def test_stream_json_is_one_chunk_per_line(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/chat/completions", "chat/stream")
    result = run_cli("complete", "-m", "gpt-3.5-turbo", "Hello!", "--stream", "--json")
    assert result.exit_code == 0, result.output
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    assert chunks == openapi_check.sse_chunks(load_fixture("chat/stream")["text"])


# -- errors ----------------------------------------------------------------------------------------


def test_unknown_model(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/chat/completions", "errors/model_not_found")
    result = run_cli("--max-retries", "0", "complete", "-m", "ft:123", "hi")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "Error: The model 'ft:123' does not exist "
        "(HTTP 404, request req_f3aa46fca70f6e573cbd6c099b79e7ff)"
    )


def test_rate_limited_then_answered(run_cli: RunCli, api: Api) -> None:
    # the SDK reads Retry-After "0" as "not given" and backs off ~0.5 s; 1 ms keeps tests fast
    limited = fixture_response("errors/rate_limit", headers={"retry-after": "0.001"})
    api.route_sequence("POST", "/chat/completions", [limited, limited, "chat/completion"])
    result = run_cli("--max-retries", "2", "complete", "-m", FT_CHAT, "hi")
    assert result.exit_code == 0, result.output
    assert len(api.requests("POST", "/chat/completions")) == 3


def test_rate_limited_without_retries(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/chat/completions", "errors/rate_limit")
    result = run_cli("--max-retries", "0", "complete", "-m", FT_CHAT, "hi")
    assert result.exit_code == 1
    assert "(HTTP 429, request req_429ratelimit00000000000000001)" in result.stderr
    assert "  next: " in result.stderr
    assert len(api.requests("POST", "/chat/completions")) == 1


def test_no_prompt_on_a_terminal_is_a_usage_error(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftctl.cli import _output

    monkeypatch.setattr(_output, "stdin_is_tty", lambda: True)
    result = run_cli("complete", "-m", FT_DAVINCI)
    assert result.exit_code == 2
    assert "missing prompt" in result.stderr
    api.assert_no_requests()


def test_stream_with_several_choices_prints_each_on_its_line(run_cli: RunCli, api: Api) -> None:
    chunks = [
        {
            "id": "c",
            "object": "text_completion",
            "created": 1,
            "model": FT_DAVINCI,
            "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": None}],
        }
        for index, text in [(1, "B1"), (0, "A1"), (1, "B2"), (0, "A2")]
    ]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    api.route_response(
        "POST",
        "/completions",
        httpx.Response(200, headers={"content-type": "text/event-stream"}, text=sse),
    )
    result = run_cli("complete", "-m", FT_DAVINCI, "x", "--stream", "-n", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == "A1A2\nB1B2\n"


def test_unknown_model_points_to_the_models(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("POST", "/completions", "errors/model_not_found")
    result = run_cli("--max-retries", "0", "complete", "-m", FT_DAVINCI, "hi")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1] == (
        "  next: `ftctl models list` shows the models this key can use"
    )
    assert "ftctl list" not in result.stderr


@pytest.mark.parametrize("piped", ["", "\n", "  \n\n"])
def test_an_empty_stdin_is_a_usage_error(run_cli: RunCli, api: Api, piped: str) -> None:
    for args in (["complete", "-m", FT_DAVINCI, "-"], ["complete", "-m", FT_DAVINCI]):
        result = run_cli(*args, input=piped)
        assert result.exit_code == 2, result.output
        assert "the prompt read from stdin is empty" in result.stderr
    api.assert_no_requests()


def test_try_it_has_the_separator_and_stop_when_known() -> None:
    from ftctl.cli.complete import try_it

    assert try_it(FT_DAVINCI, prompt="Secrets Unveiled ->", stop=".") == (
        f"Try it: ftctl complete -m {FT_DAVINCI} 'Secrets Unveiled ->' --stop ."
    )
    assert try_it(FT_DAVINCI, prompt="Q:\n", stop="\n") == (
        f"Try it: ftctl complete -m {FT_DAVINCI} 'Q:\n' --stop '\\n'"
    )
    assert try_it(FT_CHAT) == f'Try it: ftctl complete -m {FT_CHAT} "<your prompt>"'
    generic = try_it(FT_DAVINCI)
    assert "separator" in generic and "--stop" in generic
    on_azure = try_it(FT_CHAT, prompt="hi", azure=True)
    assert on_azure.startswith("Next: on Azure OpenAI a model answers only once deployed")
    assert on_azure.endswith("then: ftctl complete -m DEPLOYMENT_NAME hi")
