"""Validate bodies against the project's OpenAPI subset (fixtures/openapi/openapi.json).

Shared by the fixture tests, the CLI tests and the mock server's conformance tests:

    validate_response("retrieveFineTuningJob", 200, body)     # raises SpecMismatch
    validate_response("retrieveFineTuningJob", 404, error)    # undeclared 4xx/5xx: ErrorResponse
    validate_request("createFineTuningJob", body)              # an outgoing JSON body
    validate_stream("createChatCompletion", sse_text)          # each `data:` chunk of an SSE body
    validate_schema("ErrorResponse", body)                     # any component schema by name
    response_schema("listFineTuningEvents", 200)               # the schema itself

Built on openapi-schema-validator's OAS 3.1 validator over the subset file, which is trusted, not
re-checked (spec validation is skipped). Two deliberate allowances, both known gaps of OpenAI's
description rather than of the bodies:

- a job's `status` may be `paused` (the pause/resume examples return it; the enum lacks it);
- 4xx/5xx responses the description does not declare are checked against `ErrorResponse`, which
  is what the real service sends;
- createCompletion declares no stream schema: its chunks are checked as `CreateCompletionResponse`
  objects whose `finish_reason` may be null (it is, on every chunk but the last).

And one mechanical one: a `discriminator` without a `mapping` is dropped. The validator would
resolve `role: "user"` to `#/components/schemas/user`, which does not exist (OpenAI's schema
names are not the property values); the `oneOf` beside it still decides.

Nothing else is relaxed: real deviations (`"error": {}` on a fresh job, no `seed`, a file's
`"status_details": null`) fail here, and tests that use them say so explicitly.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator, oas31_format_checker

SPEC_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "openapi" / "openapi.json"

_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


class SpecMismatch(AssertionError):
    """A body that does not match the OpenAPI description; the message lists each violation."""


@cache
def spec() -> dict[str, Any]:
    """The subset document, with the documented allowances applied (a private copy)."""
    doc: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    status = doc["components"]["schemas"]["FineTuningJob"]["properties"]["status"]
    if "paused" not in status["enum"]:
        status["enum"] = [*status["enum"], "paused"]
    _drop_implicit_discriminators(doc)
    return doc


def _drop_implicit_discriminators(node: Any) -> None:
    if isinstance(node, dict):
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict) and "mapping" not in discriminator:
            del node["discriminator"]
        for value in node.values():
            _drop_implicit_discriminators(value)
    elif isinstance(node, list):
        for item in node:
            _drop_implicit_discriminators(item)


@cache
def _operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in spec()["paths"].items():
        for method in _METHODS:
            op = item.get(method)
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = (method.upper(), path, op)
    return found


def operation_ids() -> list[str]:
    return sorted(_operations())


def operation(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(METHOD, path template, operation object) for an operationId."""
    try:
        return _operations()[operation_id]
    except KeyError:
        raise KeyError(
            f"unknown operationId {operation_id!r}; the subset has: {', '.join(operation_ids())}"
        ) from None


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` to a components entry (responses, request bodies), once or more."""
    while "$ref" in node:
        ref = node["$ref"]
        target: Any = spec()
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def response_schema(
    operation_id: str, status: int, content_type: str = "application/json"
) -> dict[str, Any] | None:
    """The schema the description declares for a response, or None if it declares none.

    Status codes are looked up exactly, then as `4XX`-style ranges, then `default`."""
    _, _, op = operation(operation_id)
    responses: dict[str, Any] = op.get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            response = _deref(responses[key])
            media = response.get("content", {}).get(content_type)
            return None if media is None else copy.deepcopy(media.get("schema"))
    return None


def request_schema(
    operation_id: str, content_type: str = "application/json"
) -> dict[str, Any] | None:
    _, _, op = operation(operation_id)
    body = op.get("requestBody")
    if body is None:
        return None
    media = _deref(body).get("content", {}).get(content_type)
    return None if media is None else copy.deepcopy(media.get("schema"))


def _validator(schema: dict[str, Any]) -> Any:
    # Local $refs resolve against the root, so the components ride along beside the schema.
    root = {"components": spec()["components"], **schema}
    return OAS31Validator(root, format_checker=oas31_format_checker)


def _where(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return "$" + path


def _errors(schema: dict[str, Any], body: Any) -> list[ValidationError]:
    return sorted(_validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))


def _pointer(error: ValidationError) -> str:
    """A JSON pointer to what is wrong; for a missing required property, to the property."""
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [name for name in required if name not in error.instance]
        if missing:
            parts.append(str(missing[0]))
    return "/" + "/".join(parts) if parts else ""


def violations(
    operation_id: str, status: int, body: Any, content_type: str = "application/json"
) -> list[tuple[str, str]]:
    """(JSON pointer, message) for each way body departs from the description; [] if none."""
    schema = _response_schema_or_error(operation_id, status, content_type)
    return [(_pointer(e), e.message) for e in _errors(schema, body)]


def _check(schema: dict[str, Any], body: Any, what: str) -> None:
    errors = _errors(schema, body)
    if errors:
        lines = [f"{what}: {len(errors)} violation(s) of the OpenAPI description"]
        for error in errors[:8]:
            lines.append(f"  at {_where(error)}: {error.message[:300]}")
            # anyOf/oneOf failures: name the closest branch's complaint too
            for sub in sorted(error.context or [], key=lambda e: len(list(e.absolute_path)))[-2:]:
                lines.append(f"    (branch) at {_where(sub)}: {sub.message[:200]}")
        if len(errors) > 8:
            lines.append(f"  ... and {len(errors) - 8} more")
        raise SpecMismatch("\n".join(lines))


def _schema_label(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    return str(schema.get("title") or "inline schema")


def validate_schema(name: str, body: Any) -> None:
    """Validate body against the component schema `name` (e.g. "ErrorResponse")."""
    if name not in spec()["components"]["schemas"]:
        raise KeyError(f"no component schema {name!r} in the subset")
    _check({"$ref": f"#/components/schemas/{name}"}, body, name)


def validate_response(
    operation_id: str, status: int, body: Any, content_type: str = "application/json"
) -> None:
    """Raise SpecMismatch unless body is what operation_id may answer with this status."""
    schema = _response_schema_or_error(operation_id, status, content_type)
    _check(schema, body, f"{operation_id} {status} ({_schema_label(schema)})")


def _response_schema_or_error(operation_id: str, status: int, content_type: str) -> dict[str, Any]:
    schema = response_schema(operation_id, status, content_type)
    if schema is None and status >= 400:
        schema = {"$ref": "#/components/schemas/ErrorResponse"}
    if schema is None:
        raise SpecMismatch(
            f"{operation_id} declares no {status} {content_type} response in the description"
        )
    return schema


def validate_request(operation_id: str, body: Any, content_type: str = "application/json") -> None:
    """Raise SpecMismatch unless body is a valid request body for operation_id."""
    schema = request_schema(operation_id, content_type)
    if schema is None:
        raise SpecMismatch(f"{operation_id} declares no {content_type} request body")
    _check(schema, body, f"{operation_id} request ({_schema_label(schema)})")


def _completion_chunk_schema() -> dict[str, Any]:
    schema = copy.deepcopy(spec()["components"]["schemas"]["CreateCompletionResponse"])
    finish = schema["properties"]["choices"]["items"]["properties"]["finish_reason"]
    finish["type"] = ["string", "null"]
    finish["enum"] = [*finish["enum"], None]
    schema["title"] = "CreateCompletionResponse (stream chunk)"
    return schema


def sse_chunks(text: str) -> list[Any]:
    """The JSON payloads of an SSE body's `data:` lines, up to `data: [DONE]`."""
    chunks: list[Any] = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(
            line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:")
        )
        if not data:
            continue
        if data == "[DONE]":
            break
        chunks.append(json.loads(data))
    return chunks


def validate_stream(operation_id: str, text: str) -> list[Any]:
    """Validate every chunk of a streamed (SSE) 200 response; return the chunks.

    Uses the operation's `text/event-stream` schema; createCompletion declares none, and its
    chunks are completion objects with a nullable `finish_reason` (see the module docstring)."""
    schema = response_schema(operation_id, 200, "text/event-stream")
    if schema is None and operation_id == "createCompletion":
        schema = _completion_chunk_schema()
    if schema is None:
        raise SpecMismatch(f"{operation_id} declares no text/event-stream response")
    chunks = sse_chunks(text)
    if not chunks:
        raise SpecMismatch(f"{operation_id}: no `data:` chunks in the stream")
    for index, chunk in enumerate(chunks):
        _check(schema, chunk, f"{operation_id} stream chunk {index} ({_schema_label(schema)})")
    if "data: [DONE]" not in text:
        raise SpecMismatch(f"{operation_id}: the stream does not end with `data: [DONE]`")
    return chunks
