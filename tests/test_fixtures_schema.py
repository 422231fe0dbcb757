"""Every HTTP fixture matches OpenAI's OpenAPI description, or deviates exactly as documented.

Uses only the project's own files (fixtures/openapi/openapi.json, fixtures/manifest.json), so it
runs on any clone. See fixtures/README.md for the layout and the manifest's format.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import openapi_check
from tests.support.openapi_check import SpecMismatch
from tests.support.respx_api import FIXTURES, fixture_names, load_fixture

MANIFEST: dict[str, dict[str, Any]] = json.loads(
    (FIXTURES / "manifest.json").read_text(encoding="utf-8")
)
SHARED_SPEC = Path("/work/shared/openai-openapi/openapi.yaml")
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

DEVIATION_KINDS = {"empty_object", "missing", "null"}


def _entries(predicate: Any = None) -> list[str]:
    return [name for name, entry in MANIFEST.items() if predicate is None or predicate(entry)]


def _pointer_parent(body: Any, pointer: str) -> tuple[Any, str]:
    parts = pointer.strip("/").split("/")
    node = body
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def _repair(body: Any, deviations: list[dict[str, Any]]) -> Any:
    """The body as the description would have it: each documented deviation undone, after
    checking that the deviation is really there."""
    fixed = copy.deepcopy(body)
    for deviation in deviations:
        parent, key = _pointer_parent(fixed, deviation["path"])
        kind = deviation["kind"]
        if kind == "empty_object":
            assert parent.get(key) == {}, f"{deviation['path']} is not {{}}"
            parent[key] = None
        elif kind == "missing":
            assert key not in parent, f"{deviation['path']} is present"
            parent[key] = deviation["repair"]
        elif kind == "null":
            assert key in parent and parent[key] is None, f"{deviation['path']} is not null"
            del parent[key]
        else:  # pragma: no cover - guarded by test_manifest_is_well_formed
            raise AssertionError(f"unknown deviation kind {kind}")
    return fixed


# -- the manifest and the files ------------------------------------------------------------


def test_manifest_lists_exactly_the_fixture_files() -> None:
    on_disk = set(fixture_names())
    listed = set(MANIFEST)
    assert on_disk - listed == set(), "fixtures without a manifest entry"
    assert listed - on_disk == set(), "manifest entries without a file"


def test_manifest_is_well_formed() -> None:
    operations = set(openapi_check.operation_ids())
    for name, entry in MANIFEST.items():
        assert entry["operation"] in operations, name
        assert ("recorded" in entry) != ("origin" in entry), name
        if "recorded" in entry:
            assert (FIXTURES / "recorded" / entry["recorded"]).is_file(), name
        for deviation in entry.get("deviations", []):
            assert deviation["kind"] in DEVIATION_KINDS, name
            assert deviation["path"].startswith("/"), name


@pytest.mark.parametrize("name", _entries())
def test_fixture_shape(name: str) -> None:
    fixture = load_fixture(name)
    assert set(fixture) in ({"status", "headers", "json"}, {"status", "headers", "text"}), name
    assert isinstance(fixture["status"], int)
    headers = fixture["headers"]
    assert all(key == key.lower() for key in headers), "header names are lower case"
    assert headers.get("x-request-id"), "every response carries a request id"
    content_type = headers["content-type"]
    if "text" in fixture:
        assert content_type.startswith("text/event-stream")
        assert MANIFEST[name].get("stream") is True
    else:
        assert content_type.startswith("application/json")
    if fixture["status"] == 429:
        assert headers.get("retry-after") == "0", "keep Retry-After tiny so tests do not wait"


# -- the bodies against the description ----------------------------------------------------


@pytest.mark.parametrize("name", _entries(lambda e: not e.get("deviations")))
def test_fixture_matches_the_description(name: str) -> None:
    entry = MANIFEST[name]
    fixture = load_fixture(name)
    if entry.get("stream"):
        chunks = openapi_check.validate_stream(entry["operation"], fixture["text"])
        assert chunks
    else:
        openapi_check.validate_response(entry["operation"], fixture["status"], fixture["json"])


@pytest.mark.parametrize("name", _entries(lambda e: bool(e.get("deviations"))))
def test_fixture_deviates_exactly_as_documented(name: str) -> None:
    entry = MANIFEST[name]
    fixture = load_fixture(name)
    operation, status, body = entry["operation"], fixture["status"], fixture["json"]
    found = {path for path, _ in openapi_check.violations(operation, status, body)}
    documented = {d["path"] for d in entry["deviations"]}
    assert found == documented, f"{name}: violations {sorted(found)} != documented"
    with pytest.raises(SpecMismatch):
        openapi_check.validate_response(operation, status, body)
    openapi_check.validate_response(operation, status, _repair(body, entry["deviations"]))


@pytest.mark.parametrize("name", _entries(lambda e: e.get("verbatim") is True))
def test_verbatim_fixture_is_the_recording(name: str) -> None:
    entry = MANIFEST[name]
    recording = json.loads((FIXTURES / "recorded" / entry["recorded"]).read_text("utf-8"))
    response = recording[0]["response"]
    fixture = load_fixture(name)
    assert fixture["status"] == response["status"]
    assert fixture["headers"] == response["headers"]
    body_key = "text" if "text" in fixture else "json"
    assert fixture[body_key] == response[body_key]


def test_the_documented_deviations_are_all_represented() -> None:
    kinds = {
        (d["path"].rsplit("/", 1)[-1], d["kind"])
        for e in MANIFEST.values()
        for d in e.get("deviations", [])
    }
    assert ("error", "empty_object") in kinds
    assert ("seed", "missing") in kinds
    assert ("status_details", "null") in kinds


def test_jobs_cover_every_status() -> None:
    spec_statuses = set(
        openapi_check.spec()["components"]["schemas"]["FineTuningJob"]["properties"]["status"][
            "enum"
        ]
    )
    assert "paused" in spec_statuses  # the documented allowance
    for status in spec_statuses:
        job = load_fixture(f"jobs/{status}")["json"]
        assert job["status"] == status
    failed = load_fixture("jobs/failed")["json"]
    assert failed["error"]["message"] and failed["error"]["code"]


def test_error_fixtures_are_error_responses() -> None:
    for name in _entries(lambda e: True):
        fixture = load_fixture(name)
        if fixture["status"] >= 400:
            openapi_check.validate_schema("ErrorResponse", fixture["json"])
    assert load_fixture("errors/job_not_found")["json"]["error"]["code"] == "fine_tune_not_found"
    assert load_fixture("errors/model_not_found")["json"]["error"]["code"] == "model_not_found"


def test_metrics_events_carry_training_data() -> None:
    events = load_fixture("events/succeeded_all")["json"]["data"]
    metrics = [e for e in events if e.get("type") == "metrics"]
    assert metrics
    for event in metrics:
        assert set(event["data"]) == {
            "step",
            "train_loss",
            "train_mean_token_accuracy",
            "total_steps",
        }
    created = [e["created_at"] for e in events]
    assert created == sorted(created, reverse=True), "the API lists events newest first"


# -- the helper itself -----------------------------------------------------------------------


def test_validator_rejects_a_wrong_body_with_a_clear_message() -> None:
    job = copy.deepcopy(load_fixture("jobs/succeeded")["json"])
    job["status"] = "exploded"
    job["trained_tokens"] = "many"
    with pytest.raises(SpecMismatch) as excinfo:
        openapi_check.validate_response("retrieveFineTuningJob", 200, job)
    message = str(excinfo.value)
    assert "retrieveFineTuningJob 200 (FineTuningJob)" in message
    assert "$.status" in message and "$.trained_tokens" in message


def test_validator_knows_undeclared_errors_and_unknown_operations() -> None:
    with pytest.raises(SpecMismatch):
        openapi_check.validate_response("retrieveFineTuningJob", 404, {"detail": "nope"})
    with pytest.raises(SpecMismatch, match="declares no 200 text/event-stream"):
        openapi_check.validate_response("retrieveFineTuningJob", 200, {}, "text/event-stream")
    with pytest.raises(KeyError):
        openapi_check.operation("createFineTune")
    assert openapi_check.operation("listFineTuningEvents")[:2] == (
        "GET",
        "/fine_tuning/jobs/{fine_tuning_job_id}/events",
    )


def test_validator_checks_request_bodies() -> None:
    body = {
        "model": "gpt-4o-mini-2024-07-18",
        "training_file": "file-abc",
        "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
    }
    openapi_check.validate_request("createFineTuningJob", body)
    bad = copy.deepcopy(body)
    bad["method"]["supervised"]["hyperparameters"]["n_epochs"] = 0
    with pytest.raises(SpecMismatch, match="n_epochs"):
        openapi_check.validate_request("createFineTuningJob", bad)


def test_a_stream_must_end_with_done() -> None:
    text = load_fixture("chat/stream")["text"].replace("data: [DONE]\n\n", "")
    with pytest.raises(SpecMismatch, match=r"\[DONE\]"):
        openapi_check.validate_stream("createChatCompletion", text)


# -- the subset itself -----------------------------------------------------------------------


def test_subset_holds_exactly_the_operations_ftctl_uses() -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import openapi_subset
    finally:
        sys.path.remove(str(SCRIPTS))
    assert set(openapi_check.operation_ids()) == set(openapi_subset.OPERATIONS)
    schemas = openapi_check.spec()["components"]["schemas"]
    assert {"ErrorResponse", "Error", "FineTuningJob", "FineTuningJobEvent"} <= set(schemas)


def test_subset_is_a_valid_openapi_31_document() -> None:
    from openapi_spec_validator import validate

    validate(json.loads(openapi_check.SPEC_PATH.read_text("utf-8")))


@pytest.mark.skipif(not SHARED_SPEC.exists(), reason="OpenAI's full description is not here")
def test_subset_script_reproduces_the_committed_file(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import openapi_subset
    finally:
        sys.path.remove(str(SCRIPTS))
    out = tmp_path / "openapi.json"
    assert openapi_subset.main([str(SHARED_SPEC), "--out", str(out)]) == 0
    assert out.read_text("utf-8") == openapi_check.SPEC_PATH.read_text("utf-8")
