"""Conformance: every JSON response over a full lifecycle validates against OpenAI's description.

The official SDK drives the mock through files, uploads, jobs in every status, events,
checkpoints, checkpoint permissions, models, completions and chat (plain, streamed, with
logprobs, forced tools and structured output) and every error; an httpx hook records each
exchange, and openapi-core validates each response against its operation's declared schema in
the project's subset of the description (fixtures/openapi/openapi.json). It runs twice: once in
OpenAI's shape (`OpenAI`, /v1/...) and once in Azure's (`AzureOpenAI`, /openai/...?api-version=,
`api-key`), whose paths are mapped back onto the description's operations.

Allowed, as documented: a job status of `paused` (the description's own pause/resume examples
return it, its enum lacks it); a file's `status_details: null` and, with `echo`, a null first
entry in a completion's `token_logprobs`/`top_logprobs` (what the service sends; the description
has no null there); errors with statuses the description leaves undeclared are checked as
`ErrorResponse`; and Azure's own gateway errors (missing or unsupported `api-version`, missing
key) are checked against Azure's two-field body, `{"error": {"code", "message"}}`.
Streamed bodies are checked chunk by chunk against the stream schema.
"""

from __future__ import annotations

import copy
import io
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS31Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from ftctl.mock.store import Limits
from tests.support import openapi_check
from tests.support.mock_server import FakeClock, running_mock

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "fixtures" / "openapi" / "openapi.json"
BOOK = (ROOT / "fixtures" / "book" / "train_data_prepared.jsonl").read_bytes()
SERVER = "https://api.openai.com"
AZURE_VERSION = "2025-04-01-preview"
AZURE_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "additionalProperties": False,
        }
    },
}


def openai_path(path: str) -> str:
    """The description's path for a request in either shape (`/openai/deployments/x/...` too)."""
    if not path.startswith("/openai/"):
        return path
    rest = path.removeprefix("/openai/").removeprefix("v1/")
    if rest.startswith("deployments/"):
        rest = rest.split("/", 2)[2]
    return "/v1/" + rest


@cache
def spec_dict() -> dict[str, Any]:
    # openapi_check's copy: `paused` allowed, implicit discriminators dropped (see there).
    doc: dict[str, Any] = copy.deepcopy(openapi_check.spec())
    schemas = doc["components"]["schemas"]
    # The service sends `"status_details": null` on every file; the description says string.
    schemas["OpenAIFile"]["properties"]["status_details"]["type"] = ["string", "null"]
    # With `echo`, the first prompt token has no log probability: the service sends null there.
    choice = schemas["CreateCompletionResponse"]["properties"]["choices"]["items"]
    logprobs = choice["properties"]["logprobs"]["anyOf"][0]["properties"]
    logprobs["token_logprobs"]["items"] = {"type": ["number", "null"]}
    logprobs["top_logprobs"]["items"]["type"] = ["object", "null"]
    return doc


@cache
def openapi() -> OpenAPI:
    # The subset is trusted (it is OpenAI's file, cut and repaired by a script): skip re-checking
    # the spec itself and go straight to the bodies.
    return OpenAPI.from_dict(spec_dict(), config=Config(spec_validator_cls=None))


def component_validator(schema: dict[str, Any]) -> OAS31Validator:
    return OAS31Validator({"components": spec_dict()["components"], **schema})


@dataclass
class Exchange:
    method: str
    url: httpx.URL
    request_type: str
    request_body: bytes
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)

    def __call__(self, response: httpx.Response) -> None:
        response.read()  # cached by httpx: the SDK still reads it (streams included)
        request = response.request
        try:
            request_body = request.content
        except httpx.RequestNotRead:  # multipart uploads stream; only the response matters here
            request_body = b""
        self.exchanges.append(
            Exchange(
                method=request.method,
                url=request.url,
                request_type=request.headers.get("content-type", ""),
                request_body=request_body,
                status=response.status_code,
                headers=response.headers,
                body=response.content,
            )
        )


class _Request:
    def __init__(self, ex: Exchange) -> None:
        self.host_url = SERVER
        self.path = openai_path(ex.url.path)
        self.method = ex.method.lower()
        self.body = ex.request_body or None
        self.content_type = ex.request_type.lower() or "application/json"
        items = [(k, v) for k, v in ex.url.params.multi_items() if k != "api-version"]
        query = ImmutableMultiDict(items)
        self.parameters = RequestParameters(query=query, header=Headers(), cookie={})


class _Response:
    def __init__(self, ex: Exchange) -> None:
        self.status_code = ex.status
        self.content_type = ex.headers.get("content-type", "").lower()
        self.headers = Headers(list(ex.headers.items()))
        self.data = ex.body


def _stream_schema(path: str) -> dict[str, Any]:
    schemas = spec_dict()["components"]["schemas"]
    if path.endswith("/chat/completions"):
        return {"$ref": "#/components/schemas/CreateChatCompletionStreamResponse"}
    # createCompletion declares no stream schema; its chunks are completion objects whose
    # finish_reason is null until the last.
    schema = copy.deepcopy(schemas["CreateCompletionResponse"])
    finish = schema["properties"]["choices"]["items"]["properties"]["finish_reason"]
    finish["type"] = ["string", "null"]
    finish["enum"] = [*finish["enum"], None]
    return schema


def problems(ex: Exchange) -> list[str] | None:
    """Violations in one exchange's body ([] if it conforms); None if it is not JSON."""
    content_type = ex.headers.get("content-type", "")
    if content_type.startswith("text/event-stream"):
        validator = component_validator(_stream_schema(ex.url.path))
        text = ex.body.decode()
        assert text.rstrip().endswith("data: [DONE]")
        found = []
        for event in text.split("\n\n"):
            data = event.removeprefix("data: ")
            if data and data != "[DONE]":
                found += [e.message for e in validator.iter_errors(json.loads(data))]
        return found
    if not content_type.startswith("application/json"):
        return None
    body = json.loads(ex.body)
    error = body.get("error") if isinstance(body, dict) else None
    gateway = ex.status >= 400 and isinstance(error, dict) and "type" not in error
    if ex.url.path.startswith("/openai/") and gateway:
        # Azure's gateway answered before any handler: its own two-field error body.
        return [e.message for e in OAS31Validator(AZURE_ERROR).iter_errors(body)]
    try:
        openapi().validate_response(_Request(ex), _Response(ex))  # type: ignore[arg-type]
    except (PathError, ResponseNotFound):
        # Undeclared: unknown routes and the 4xx statuses the description leaves out.
        if ex.status < 400:
            return [f"no operation declares {ex.method} {ex.url.path} -> {ex.status}"]
        validator = component_validator({"$ref": "#/components/schemas/ErrorResponse"})
        return [e.message for e in validator.iter_errors(json.loads(ex.body))]
    except Exception as exc:
        causes = [str(getattr(exc, "__cause__", "") or "")]
        for sub in getattr(exc.__cause__, "schema_errors", []) or []:
            causes.append(str(sub.message)[:300])
        return [f"{type(exc).__name__}: {' | '.join(c for c in causes if c)}"[:2000]]
    return []


def lifecycle(recorder: Recorder, shape: str) -> None:
    """Every endpoint, every job status, every error, through the official SDK."""
    clock = FakeClock()
    limits = Limits(file_bytes=8192, part_bytes=64, active_jobs=4)
    with running_mock(speed=1.0, clock=clock, limits=limits) as url:
        http = httpx.Client(event_hooks={"response": [recorder]})
        c: openai.OpenAI
        if shape == "azure":
            endpoint = url.removesuffix("/v1")
            c = openai.AzureOpenAI(
                azure_endpoint=endpoint,
                api_key="azure-conf",
                api_version=AZURE_VERSION,
                max_retries=0,
                http_client=http,
            )
            raw_base, raw_query = endpoint + "/openai", {"api-version": AZURE_VERSION}
            raw_auth = {"api-key": "azure-conf"}
        else:
            c = openai.OpenAI(base_url=url, api_key="sk-conf", max_retries=0, http_client=http)
            raw_base, raw_query, raw_auth = url, {}, {"Authorization": "Bearer k"}

        def up(data: bytes, name: str = "d.jsonl", purpose: str = "fine-tune") -> str:
            return c.files.create(file=(name, io.BytesIO(data)), purpose=purpose).id  # type: ignore[arg-type]

        def expect(error: type[Exception], call: Any) -> None:
            with pytest.raises(error):
                call()

        # files
        book = up(BOOK, "train_data_prepared.jsonl")
        small = up(BOOK[:1000] + b"\n", "small.jsonl")
        chat = up(
            "".join(
                json.dumps(
                    {
                        "messages": [
                            {"role": "user", "content": f"q{i}"},
                            {"role": "assistant", "content": f"a{i}"},
                        ]
                    }
                )
                + "\n"
                for i in range(10)
            ).encode()
        )
        c.files.list()
        c.files.list(limit=1, order="asc", after=book)
        c.files.list(purpose="batch")
        c.files.retrieve(book)
        with pytest.raises(openai.BadRequestError):
            c.files.content(book)  # a fine-tune upload: refused, in the error's shape
        c.files.delete(up(b"x", "notes.txt", "assistants"))

        # uploads
        upload = c.uploads.create(
            filename="big.jsonl", purpose="fine-tune", bytes=len(BOOK[:100]), mime_type="text/jsonl"
        )
        p1 = c.uploads.parts.create(upload.id, data=BOOK[50:100])
        p2 = c.uploads.parts.create(upload.id, data=BOOK[:50])
        c.uploads.complete(upload.id, part_ids=[p2.id, p1.id])
        other = c.uploads.create(
            filename="x.jsonl", purpose="fine-tune", bytes=10, mime_type="text/jsonl"
        )
        c.uploads.cancel(other.id)
        expect(openai.BadRequestError, lambda: c.uploads.parts.create(other.id, data=b"late"))
        expect(openai.APIStatusError, lambda: c.uploads.parts.create(upload.id, data=b"x" * 65))

        # jobs through every status
        job = c.fine_tuning.jobs.create(
            training_file=book, model="davinci-002", suffix="book", metadata={"k": "v"}
        )
        c.fine_tuning.jobs.retrieve(job.id)  # validating_files
        clock.advance(3)
        c.fine_tuning.jobs.retrieve(job.id)  # queued
        clock.advance(3)
        c.fine_tuning.jobs.retrieve(job.id)  # running
        c.fine_tuning.jobs.pause(job.id)
        c.fine_tuning.jobs.list_events(job.id)
        c.fine_tuning.jobs.resume(job.id)
        c.fine_tuning.jobs.checkpoints.list(job.id)
        failed = c.fine_tuning.jobs.create(training_file=small, model="davinci-002")
        tuned_chat = c.fine_tuning.jobs.create(
            training_file=chat,
            validation_file=chat,
            model="gpt-4o-mini",
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        )
        cancelled = c.fine_tuning.jobs.create(training_file=book, model="davinci-002")
        expect(
            openai.RateLimitError,
            lambda: c.fine_tuning.jobs.create(training_file=book, model="davinci-002"),
        )
        c.fine_tuning.jobs.cancel(cancelled.id)
        clock.advance(60)
        for j in (job, failed, tuned_chat, cancelled):
            c.fine_tuning.jobs.retrieve(j.id)
            c.fine_tuning.jobs.list_events(j.id, limit=5)
            c.fine_tuning.jobs.checkpoints.list(j.id)
        c.fine_tuning.jobs.list()
        c.fine_tuning.jobs.list(limit=2, after=tuned_chat.id)
        c.fine_tuning.jobs.list(metadata={"k": "v"})
        dpo = c.fine_tuning.jobs.create(
            training_file=chat, model="gpt-4.1-nano", method={"type": "dpo"}
        )
        prefs = up(
            "".join(
                json.dumps(
                    {
                        "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
                        "preferred_output": [{"role": "assistant", "content": f"yes {i}"}],
                        "non_preferred_output": [{"role": "assistant", "content": f"no {i}"}],
                    }
                )
                + "\n"
                for i in range(10)
            ).encode()
        )
        rft_rows = "".join(
            json.dumps({"messages": [{"role": "user", "content": f"q{i}"}], "answer": f"a{i}"})
            + "\n"
            for i in range(10)
        )
        rft_file = up(rft_rows.encode())
        clock.advance(60)
        c.fine_tuning.jobs.retrieve(dpo.id)  # failed: chat rows are not preference pairs
        good_dpo = c.fine_tuning.jobs.create(
            training_file=prefs,
            model="gpt-4.1-nano",
            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.3}}},
        )
        grader: Any = {
            "type": "string_check",
            "name": "answer",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "operation": "eq",
        }
        rft = c.fine_tuning.jobs.create(
            training_file=rft_file,
            validation_file=rft_file,
            model="o4-mini",
            method={
                "type": "reinforcement",
                "reinforcement": {"grader": grader, "hyperparameters": {"eval_interval": 2}},
            },
        )
        expect(
            openai.BadRequestError,
            lambda: c.fine_tuning.jobs.create(
                training_file=rft_file,
                model="o4-mini",
                method={
                    "type": "reinforcement",
                    "reinforcement": {"grader": grader, "hyperparameters": {"eval_samples": 0}},
                },
            ),
        )
        clock.advance(120)
        for j in (good_dpo, rft):
            c.fine_tuning.jobs.retrieve(j.id)
            c.fine_tuning.jobs.list_events(j.id, limit=50)
            c.fine_tuning.jobs.checkpoints.list(j.id)

        # models and completions
        done = c.fine_tuning.jobs.retrieve(job.id)
        chat_done = c.fine_tuning.jobs.retrieve(tuned_chat.id)
        model, chat_model = done.fine_tuned_model, chat_done.fine_tuned_model
        assert model and chat_model
        c.models.list()
        c.models.retrieve("gpt-4o-mini")
        c.models.retrieve(model)
        prompt = "Secrets Unveiled ->"
        c.completions.create(model=model, prompt=prompt, max_tokens=30)
        c.completions.create(model=model, prompt=[prompt, "Beyond the Stars ->"], n=2, stop=".")
        list(c.completions.create(model=model, prompt=prompt, stream=True))
        list(
            c.completions.create(
                model="babbage-002", prompt="x", stream=True, stream_options={"include_usage": True}
            )
        )
        messages: Any = [{"role": "user", "content": "q3"}]
        c.chat.completions.create(model=chat_model, messages=messages)
        c.chat.completions.create(model="gpt-4.1", messages=messages, n=2, max_tokens=5)
        stream = c.chat.completions.create(
            model=chat_model, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        list(stream)
        list(c.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
        c.completions.create(model=model, prompt=prompt, logprobs=2, echo=True, max_tokens=5)
        list(c.completions.create(model=model, prompt=prompt, logprobs=1, stream=True))
        c.chat.completions.create(
            model=chat_model, messages=messages, logprobs=True, top_logprobs=2
        )
        list(
            c.chat.completions.create(
                model=chat_model, messages=messages, logprobs=True, stream=True
            )
        )
        tool: Any = {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                    "required": ["q", "n"],
                },
            },
        }
        forced: Any = {"type": "function", "function": {"name": "lookup"}}
        c.chat.completions.create(
            model=chat_model, messages=messages, tools=[tool], tool_choice=forced
        )
        list(
            c.chat.completions.create(
                model="gpt-4.1-mini",
                messages=messages,
                tools=[tool],
                tool_choice="required",
                stream=True,
            )
        )
        c.chat.completions.create(
            model=chat_model, messages=messages, response_format={"type": "json_object"}
        )
        schema: Any = {
            "type": "json_schema",
            "json_schema": {
                "name": "A",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "required": ["a"],
                    "additionalProperties": False,
                },
            },
        }
        c.chat.completions.create(model=chat_model, messages=messages, response_format=schema)
        expect(
            openai.BadRequestError,
            lambda: c.chat.completions.create(model=chat_model, messages=messages, temperature=5),
        )
        expect(
            openai.BadRequestError,
            lambda: c.completions.create(model=model, prompt="x", extra_body={"frobnicate": 1}),
        )

        # checkpoint permissions, on the tune and on one of its checkpoints
        ckpt = c.fine_tuning.jobs.checkpoints.list(job.id).data[0].fine_tuned_model_checkpoint
        shared = c.fine_tuning.checkpoints.permissions.create(
            model, project_ids=["proj_abGMw1llN8IrBb6SvvY5A1iH", "proj_iqGMw1llN8IrBb6SvvY5A1oF"]
        )
        c.fine_tuning.checkpoints.permissions.create(ckpt, project_ids=["proj_x"])
        c.fine_tuning.checkpoints.permissions.list(model)
        c.fine_tuning.checkpoints.permissions.list(
            model, project_id="proj_iqGMw1llN8IrBb6SvvY5A1oF", order="ascending", limit=1
        )
        first = shared.data[0].id
        c.fine_tuning.checkpoints.permissions.list(model, after=first)
        c.fine_tuning.checkpoints.permissions.delete(first, fine_tuned_model_checkpoint=model)
        expect(
            openai.NotFoundError,
            lambda: c.fine_tuning.checkpoints.permissions.delete(
                first, fine_tuned_model_checkpoint=model
            ),
        )
        expect(
            openai.NotFoundError,
            lambda: c.fine_tuning.checkpoints.permissions.list("ft:nope:x::y"),
        )
        expect(
            openai.BadRequestError,
            lambda: c.fine_tuning.checkpoints.permissions.create(model, project_ids=["nope"]),
        )
        c.models.delete(model)

        # graders
        grader: Any = {
            "type": "string_check",
            "name": "exact",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "operation": "eq",
        }
        c.fine_tuning.alpha.graders.validate(grader=grader)
        c.fine_tuning.alpha.graders.run(grader=grader, model_sample="4", item={"answer": "4"})
        expect(
            openai.BadRequestError,
            lambda: c.fine_tuning.alpha.graders.validate(grader={**grader, "operation": "is"}),
        )

        # errors
        expect(openai.NotFoundError, lambda: c.models.retrieve(model))
        expect(openai.NotFoundError, lambda: c.models.delete("ft:nope"))
        expect(openai.PermissionDeniedError, lambda: c.models.delete("davinci-002"))
        expect(openai.NotFoundError, lambda: c.fine_tuning.jobs.retrieve("ftjob-nope"))
        expect(openai.NotFoundError, lambda: c.fine_tuning.jobs.list_events("ftjob-nope"))
        expect(openai.NotFoundError, lambda: c.files.retrieve("file-nope"))
        expect(openai.NotFoundError, lambda: c.completions.create(model=model, prompt="x"))
        expect(
            openai.NotFoundError,
            lambda: c.chat.completions.create(model="davinci-002", messages=messages),
        )
        expect(openai.BadRequestError, lambda: c.fine_tuning.jobs.cancel(job.id))
        expect(
            openai.BadRequestError,
            lambda: c.fine_tuning.jobs.create(training_file=book, model="curie"),
        )
        expect(
            openai.BadRequestError,
            lambda: c.fine_tuning.jobs.create(
                training_file=book, model="davinci-002", suffix="x" * 65
            ),
        )
        expect(openai.APIStatusError, lambda: up(b"x" * 9000, "huge.jsonl"))  # 413
        expect(openai.BadRequestError, lambda: up(b"a,b", "data.csv"))
        c.files.delete(book)
        for method, path in (("GET", "/nope"), ("PUT", "/models")):
            http.request(method, raw_base + path, params=raw_query, headers=raw_auth)
        http.get(raw_base + "/models", params=raw_query)  # 401
        if shape == "azure":
            http.get(raw_base + "/models", headers=raw_auth)  # no api-version: 404
            http.get(raw_base + "/models", params={"api-version": "2020-01-01"}, headers=raw_auth)
        http.close()


@pytest.mark.parametrize("shape", ["openai", "azure"])
def test_every_json_response_matches_the_openapi_description(shape: str) -> None:
    recorder = Recorder()
    lifecycle(recorder, shape)
    checked = valid = 0
    failures = []
    for ex in recorder.exchanges:
        found = problems(ex)
        if found is None:
            continue
        checked += 1
        if found:
            failures.append(f"{ex.method} {ex.url.path} -> {ex.status}: {found[:3]}")
        else:
            valid += 1
    statuses = {ex.status for ex in recorder.exchanges}
    print(f"\nconformance: {checked} responses checked, {valid} valid")
    assert not failures, "\n".join(failures)
    assert checked >= 75
    assert {200, 400, 401, 403, 404, 413, 429} <= statuses
    operations = {(ex.method, _template(openai_path(ex.url.path))) for ex in recorder.exchanges}
    declared = {
        (method.upper(), "/v1" + path)
        for path, item in spec_dict()["paths"].items()
        for method in item
        if method in ("get", "post", "delete")
    }
    assert declared <= operations, f"not exercised: {sorted(declared - operations)}"


def _template(path: str) -> str:
    """Replace ids in a path with the description's template names."""
    parts = path.split("/")
    names = {
        "files": "{file_id}",
        "jobs": "{fine_tuning_job_id}",
        "uploads": "{upload_id}",
        "models": "{model}",
        "checkpoints": "{fine_tuned_model_checkpoint}",
        "permissions": "{permission_id}",
    }
    out = []
    for i, part in enumerate(parts):
        prev = parts[i - 1] if i else ""
        out.append(names[prev] if prev in names and part else part)
    return "/".join(out)


def test_the_checker_catches_a_wrong_body() -> None:
    """The check above can fail: a job without its required fields does not pass."""
    ex = Exchange(
        method="GET",
        url=httpx.URL("http://127.0.0.1/v1/fine_tuning/jobs/ftjob-x"),
        request_type="",
        request_body=b"",
        status=200,
        headers=httpx.Headers({"content-type": "application/json"}),
        body=json.dumps(
            {"object": "fine_tuning.job", "id": "ftjob-x", "status": "paused"}
        ).encode(),
    )
    found = problems(ex)
    assert found, "a job missing its required fields was accepted"
    recorded_fresh_job = {
        "object": "fine_tuning.job",
        "id": "ftjob-x",
        "model": "gpt-4o-2024-08-06",
        "created_at": 1728975280,
        "finished_at": None,
        "fine_tuned_model": None,
        "organization_id": "org-x",
        "result_files": [],
        "status": "validating_files",
        "validation_file": None,
        "training_file": "file-x",
        "hyperparameters": {"n_epochs": "auto"},
        "trained_tokens": None,
        "error": {},  # what the real service sends; the description says null
        "seed": 1,
    }
    ex.body = json.dumps(recorded_fresh_job).encode()
    assert problems(ex)
    ex.body = json.dumps({**recorded_fresh_job, "error": None, "status": "paused"}).encode()
    assert problems(ex) == []
    ex.body = json.dumps({"error": {"message": "m", "type": "t"}}).encode()
    ex.status = 418
    assert problems(ex)
