"""`ftctl complete`: try a model (tuned or base) on a prompt."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ftctl.cli import _output
from ftctl.cli._context import current
from ftctl.cli._options import JsonFlag
from ftctl.errors import UsageError

if TYPE_CHECKING:
    from ftctl.service.completions import CompletionRequest, CompletionsService


def _read_prompt(positional: str | None, option: str | None) -> str:
    if positional is not None and option is not None:
        raise UsageError("give the prompt once: as an argument or with -p, not both")
    prompt = option if option is not None else positional
    if prompt == "-" or (prompt is None and not _output.stdin_is_tty()):
        prompt = sys.stdin.read()
        if not prompt.strip():
            raise UsageError(
                "the prompt read from stdin is empty",
                hint='pipe a prompt in (echo "Secrets Unveiled ->" | ftctl complete -m MODEL), '
                "or pass it as an argument",
            )
        return prompt
    if prompt is None:
        raise UsageError(
            "missing prompt", hint='pass it as an argument, with -p, or "-" to read stdin'
        )
    return prompt


def complete(
    prompt_arg: Annotated[
        str | None,
        typer.Argument(
            metavar="PROMPT", help='The prompt; "-" reads it from stdin.', show_default=False
        ),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model to ask, e.g. ft:davinci-002:org::id.")
    ] = "",
    prompt: Annotated[
        str | None, typer.Option("--prompt", "-p", help="The prompt (instead of the argument).")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Most tokens to generate.")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature.")
    ] = None,
    stop: Annotated[
        list[str] | None,
        typer.Option("--stop", help="Stop sequence (up to 4); repeatable. Escapes like \\n work."),
    ] = None,
    n: Annotated[
        int | None, typer.Option("-n", min=1, max=128, help="Completions to make.")
    ] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Print text as it arrives.")] = False,
    system: Annotated[
        str | None, typer.Option("--system", help="System message (chat models only).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ask a model to complete a prompt and print only the generated text.

    davinci-002, babbage-002 and their ft: tunes use /v1/completions; chat models use
    /v1/chat/completions. With -n, each completion is printed on its own line.
    """
    from ftctl.service.completions import CompletionRequest, CompletionsService, choice_texts

    if not model:
        raise UsageError("missing model", hint="pass -m MODEL (see `ftctl list` for tunes)")
    from ftctl.models import check_not_retired

    check_not_retired(model)
    stops = [s.encode().decode("unicode_escape") for s in (stop or [])]
    if len(stops) > 4:
        raise UsageError("at most 4 --stop sequences")
    request = CompletionRequest(
        model=model,
        prompt=_read_prompt(prompt_arg, prompt),
        max_tokens=max_tokens,
        temperature=temperature,
        stop=stops,
        n=n,
        system=system,
    )
    if system and not request.is_chat:
        raise UsageError(f"--system needs a chat model; {model} uses /v1/completions")
    state = current()
    service = CompletionsService(state.client(), azure=state.settings.is_azure)
    if stream:
        _stream(service, request, as_json=as_json)
        return
    response = service.create(request)
    _output.show(response, as_json, lambda response: _output.echo_lines(choice_texts(response)))


def _stream(service: CompletionsService, request: CompletionRequest, *, as_json: bool) -> None:
    from ftctl.service.completions import chunk_deltas

    texts: dict[int, str] = {}
    single = (request.n or 1) == 1
    for chunk in service.stream(request):
        if as_json:
            _output.emit_json_line(chunk)
            continue
        for index, text in chunk_deltas(chunk):
            if single:
                _output.echo(text, end="")
            else:
                texts[index] = texts.get(index, "") + text
    if as_json:
        return
    if single:
        _output.echo()
    else:
        for index in sorted(texts):
            _output.echo(texts[index])


def try_it(
    model: str, *, prompt: str | None = None, stop: str | None = None, azure: bool = False
) -> str:
    """The "Try it" line printed when a job succeeds: a `complete` command that works, with a
    prompt from the training data (so it ends with the data's separator) and the stop sequence
    prepare advised, when the caller knows them. On Azure the model must be deployed first."""
    import shlex

    from ftctl.models import uses_completions_endpoint

    legacy = uses_completions_endpoint(model)
    if prompt is not None:
        shown_prompt = shlex.quote(prompt)
    elif legacy:
        shown_prompt = '"<prompt ending with the separator of your training prompts>"'
    else:
        shown_prompt = '"<your prompt>"'
    options = ""
    if stop:
        options = f" --stop {shlex.quote(stop.encode('unicode_escape').decode())}"
    elif prompt is None and legacy:
        options = ' --stop "<the ending your completions share>"'
    if azure:
        from ftctl.service.completions import deploy_first_hint

        return "Next: " + deploy_first_hint(
            model, then=f"ftctl complete -m DEPLOYMENT_NAME {shown_prompt}{options}"
        )
    return f"Try it: ftctl complete -m {shlex.quote(model)} {shown_prompt}{options}"


def register(app: typer.Typer) -> None:
    app.command("complete")(complete)
