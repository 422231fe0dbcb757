"""`ftctl checkpoints`: a job's checkpoints (old and new spellings), and sharing a checkpoint with
other projects (share, permissions, unshare) against respx fixtures shaped on the description."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.support.cli import RunCli
from tests.support.openapi_check import validate_request
from tests.support.respx_api import Api, fixture_json, fixture_response, request_json

JOB = "ftjob-abc123"
CKPT = "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12"
PERM_ID = "cp_zc4Q7MP6XxulcVzj4MZdwsAB"
PROJECT = "proj_abGMw1llN8IrBb6SvvY5A1iH"


@pytest.mark.parametrize(
    "args",
    [
        ("checkpoints", "-i", JOB),
        ("checkpoints", JOB),
        ("checkpoints", "list", "-i", JOB),
        ("checkpoints", "list", JOB),
    ],
)
def test_a_jobs_checkpoints_every_spelling(
    run_cli: RunCli, api: Api, args: tuple[str, ...]
) -> None:
    api.route_fixture("GET", f"/fine_tuning/jobs/{JOB}/checkpoints", "checkpoints/list")
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0].split("\t")
    assert first[0].endswith(":ckpt-step-30")
    assert first[1] == "step 30"


def test_checkpoints_json_is_the_page_verbatim(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", f"/fine_tuning/jobs/{JOB}/checkpoints", "checkpoints/list")
    result = run_cli("checkpoints", "-i", JOB, "--json")
    assert json.loads(result.stdout) == fixture_json("checkpoints/list")


def test_checkpoints_help_says_which_is_which(run_cli: RunCli) -> None:
    result = run_cli("checkpoints", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "`ftctl checkpoints -i JOB`, the same as `checkpoints list`" in text
    for command in ("list", "share", "permissions", "unshare"):
        assert f"  {command} " in result.stdout
    assert "admin API key" in text


def _route(api: Api, method: str, suffix: str, fixture: str, **kwargs: object) -> None:
    # The SDK leaves ':' unescaped in a path segment; route both spellings to be safe.
    for checkpoint in {CKPT, quote(CKPT, safe="")}:
        api.route_fixture(
            method,
            f"/fine_tuning/checkpoints/{checkpoint}/permissions{suffix}",
            fixture,
            **kwargs,  # type: ignore[arg-type]
        )


def test_share_posts_the_project_ids(run_cli: RunCli, api: Api) -> None:
    _route(api, "POST", "", "checkpoints/permissions_created")
    result = run_cli(
        "checkpoints", "share", CKPT, "--project", PROJECT, "-p", "proj_iqGMw1llN8IrBb6SvvY5A1oF"
    )
    assert result.exit_code == 0, result.stderr
    (sent,) = api.requests("POST")
    body = request_json(sent)
    assert body == {"project_ids": [PROJECT, "proj_iqGMw1llN8IrBb6SvvY5A1oF"]}
    validate_request("createFineTuningCheckpointPermission", body)
    assert sent.url.path.endswith("/permissions")
    assert f"Shared {CKPT} with {PROJECT}: permission {PERM_ID}" in result.stderr
    assert result.stdout.splitlines()[0].split("\t")[:2] == [PERM_ID, PROJECT]


def test_share_without_a_project_is_a_usage_error(run_cli: RunCli, api: Api) -> None:
    result = run_cli("checkpoints", "share", CKPT)
    assert result.exit_code == 2
    assert "--project" in result.stderr
    api.assert_no_requests()


def test_permissions_lists_them_and_json_is_verbatim(run_cli: RunCli, api: Api) -> None:
    _route(api, "GET", "", "checkpoints/permissions_list")
    result = run_cli("checkpoints", "permissions", CKPT)
    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[:2] for row in rows] == [
        [PERM_ID, PROJECT],
        ["cp_enQCFmOTGj3syEpYVhBRLTSy", "proj_iqGMw1llN8IrBb6SvvY5A1oF"],
    ]
    as_json = run_cli("checkpoints", "permissions", CKPT, "--json")
    assert json.loads(as_json.stdout) == fixture_json("checkpoints/permissions_list")


def test_permissions_for_one_project_sends_project_id(run_cli: RunCli, api: Api) -> None:
    _route(api, "GET", "", "checkpoints/permissions_empty")
    result = run_cli("checkpoints", "permissions", CKPT, "--project", "proj_other")
    assert result.exit_code == 0
    (sent,) = api.requests("GET")
    assert sent.url.params["project_id"] == "proj_other"
    assert result.stdout == ""
    assert f"ftctl checkpoints share {CKPT} --project PROJECT_ID" in result.stderr


def test_permissions_read_every_page(run_cli: RunCli, api: Api) -> None:
    first = fixture_json("checkpoints/permissions_list")
    first["has_more"] = True
    second = fixture_json("checkpoints/permissions_list")
    second["data"] = [{**second["data"][0], "id": "cp_third", "project_id": "proj_third"}]
    for checkpoint in {CKPT, quote(CKPT, safe="")}:
        path = f"/fine_tuning/checkpoints/{checkpoint}/permissions"
        api.route_response(
            "GET",
            path,
            fixture_response("checkpoints/permissions_list", json_body=second),
            params={"after": "cp_enQCFmOTGj3syEpYVhBRLTSy"},
        )
        api.route_response(
            "GET", path, fixture_response("checkpoints/permissions_list", json_body=first)
        )
    result = run_cli("checkpoints", "permissions", CKPT, "--json")
    assert result.exit_code == 0, result.stderr
    merged = json.loads(result.stdout)
    assert [p["id"] for p in merged["data"]] == [PERM_ID, "cp_enQCFmOTGj3syEpYVhBRLTSy", "cp_third"]
    assert merged["has_more"] is False


def test_unshare_deletes_the_permission(run_cli: RunCli, api: Api) -> None:
    _route(api, "DELETE", f"/{PERM_ID}", "checkpoints/permission_deleted")
    result = run_cli("checkpoints", "unshare", CKPT, PERM_ID, "--yes")
    assert result.exit_code == 0, result.stderr
    (sent,) = api.requests("DELETE")
    assert sent.url.path.endswith(f"/permissions/{PERM_ID}")
    assert result.stdout == f"Removed permission {PERM_ID}\n"


def test_unshare_without_a_terminal_needs_yes(run_cli: RunCli, api: Api) -> None:
    result = run_cli("checkpoints", "unshare", CKPT, PERM_ID)
    assert result.exit_code == 2
    assert f"ftctl checkpoints unshare {CKPT} {PERM_ID} --yes" in result.stderr
    api.assert_no_requests()


@pytest.mark.parametrize(
    ("args", "method", "suffix"),
    [
        (("share", CKPT, "--project", PROJECT), "POST", ""),
        (("permissions", CKPT), "GET", ""),
        (("unshare", CKPT, PERM_ID, "--yes"), "DELETE", f"/{PERM_ID}"),
    ],
)
@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_says_an_admin_key_is_needed(
    run_cli: RunCli, api: Api, args: tuple[str, ...], method: str, suffix: str, status: int
) -> None:
    _route(api, method, suffix, "errors/admin_key_required", status=status)
    result = run_cli("--max-retries", "0", "checkpoints", *args)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: You have insufficient permissions for this operation.")
    assert f"HTTP {status}" in lines[0]
    assert lines[1].startswith("  next: checkpoint permissions need an admin API key")
