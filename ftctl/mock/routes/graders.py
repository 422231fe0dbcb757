"""The mock's graders endpoints: POST /v1/fine_tuning/alpha/graders/validate and .../run.

Thin handlers over ftctl.graders: the body is checked as the service checks it (400 naming the
`param`), then the grader is validated, and for `run` graded by the local engine off the event
loop. Python graders run in a separate, limited process, at most two at a time.
"""

from __future__ import annotations

import threading
from typing import Any

from ftctl.graders.engine import run_grader
from ftctl.graders.sandbox import DEFAULT_TIMEOUT, PythonOutcome, run_python_grader
from ftctl.graders.validation import GraderError, validate_grader
from ftctl.mock.errors import APIError, invalid_type, missing
from ftctl.mock.http import Call, endpoint

_SANDBOX_SLOTS = threading.BoundedSemaphore(2)  # each child may take 512 MB
PYTHON_TIMEOUT = DEFAULT_TIMEOUT  # seconds a python grader may run


def _api_error(error: GraderError) -> APIError:
    return APIError(400, error.message, param=error.param, code=error.code)


def _grader(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("grader") is None:
        raise missing("grader")
    grader = body["grader"]
    try:
        validate_grader(grader)
    except GraderError as error:
        raise _api_error(error) from None
    assert isinstance(grader, dict)
    return grader


def _limited_python(source: str, sample: dict[str, Any], item: dict[str, Any]) -> PythonOutcome:
    with _SANDBOX_SLOTS:
        return run_python_grader(source, sample, item, timeout=PYTHON_TIMEOUT)


async def validate(call: Call) -> dict[str, Any]:
    return {"grader": _grader(call.body)}


def run(call: Call) -> dict[str, Any]:
    """A plain function, so `endpoint` runs it on a worker thread: python graders wait on a
    process, model stand-ins may load a tokenizer."""
    body = call.body
    grader = _grader(body)
    if body.get("model_sample") is None:
        raise missing("model_sample")
    sample = body["model_sample"]
    if not isinstance(sample, str):
        raise invalid_type("model_sample", "a string", sample)
    item = body.get("item")
    if item is not None and not isinstance(item, dict):
        raise invalid_type("item", "an object", item)
    return run_grader(grader, item, sample, python_runner=_limited_python)


ROUTES = [
    endpoint("POST", "/v1/fine_tuning/alpha/graders/validate", validate, body="json"),
    endpoint("POST", "/v1/fine_tuning/alpha/graders/run", run, body="json"),
]
