"""Models, list filters, every event, and tables that hold up: ids never cut, no markup."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from ftctl.cli import _output, _render
from tests.support.cli import RunCli
from tests.support.respx_api import Api, fixture_json

JOB = "ftjob-abc123"
EVENTS = f"/fine_tuning/jobs/{JOB}/events"
BOOKS = "ft:davinci-002:acme:books:Kpslm0lc"


# -- models --------------------------------------------------------------------------------------


def test_models_list_fine_tuned_only(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/models", "models/list")
    result = run_cli("models", "list", "--fine-tuned")
    assert result.exit_code == 0, result.output
    ids = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert ids == [BOOKS, "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12"]  # newest first
    everything = json.loads(run_cli("models", "list", "--json").stdout)
    assert len(everything["data"]) == 4
    tuned = json.loads(run_cli("models", "list", "--fine-tuned", "--json").stdout)
    assert {m["id"] for m in tuned["data"]} == set(ids)


def test_models_get(run_cli: RunCli, api: Api) -> None:
    name = fixture_json("models/base")["id"]
    api.route_fixture("GET", f"/models/{name}", "models/base")
    result = run_cli("models", "get", name)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == ["id", name]
    as_json = run_cli("models", "get", name, "--json")
    assert json.loads(as_json.stdout) == fixture_json("models/base")


def test_delete_stays_the_books_command(run_cli: RunCli, api: Api) -> None:
    result = run_cli("delete", "-i", BOOKS)
    assert result.exit_code == 2
    assert f"ftctl delete -i {BOOKS} --yes" in result.stderr


# -- list filters --------------------------------------------------------------------------------


def _two_pages(api: Api) -> None:
    api.route_fixture(
        "GET", "/fine_tuning/jobs", "jobs/list_page2", params={"after": "ftjob-def456"}
    )
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page1")


def test_metadata_is_the_apis_filter(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", "/fine_tuning/jobs", "jobs/list_page2")
    result = run_cli("list", "--metadata", "team=nlp", "--json")
    assert result.exit_code == 0, result.output
    assert api.request("GET", "/fine_tuning/jobs").url.params["metadata[team]"] == "nlp"
    assert json.loads(result.stdout) == fixture_json("jobs/list_page2")


def test_status_filters_locally_across_pages(run_cli: RunCli, api: Api) -> None:
    _two_pages(api)
    result = run_cli("list", "--status", "failed", "--status", "cancelled", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [
        "ftjob-ghi789",
        "ftjob-jkl012",
    ]
    assert len(api.requests("GET", "/fine_tuning/jobs")) == 2


def test_filtered_json_keeps_the_list_shape(run_cli: RunCli, api: Api) -> None:
    _two_pages(api)
    body = json.loads(run_cli("list", "--status", "running", "--all", "--json").stdout)
    assert body["object"] == "list"
    assert [job["id"] for job in body["data"]] == ["ftjob-def456"]
    assert body["has_more"] is False


def test_model_filter_matches_base_or_tune(run_cli: RunCli, api: Api) -> None:
    _two_pages(api)
    result = run_cli("list", "-m", "ft:gpt-4o-mini-2024-07-18:acme:sarcasm:AbCdEf12", "--all")
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [JOB]
    none = run_cli("list", "-m", "davinci-002", "--all")
    assert none.exit_code == 0
    assert none.stdout == "" and "No fine-tuning jobs match." in none.stderr


def test_unknown_status_is_a_usage_error(run_cli: RunCli, api: Api) -> None:
    result = run_cli("list", "--status", "done")
    assert result.exit_code == 2
    assert "unknown status 'done'" in result.stderr
    api.assert_no_requests()


def test_events_all_pages_through_every_event(run_cli: RunCli, api: Api) -> None:
    api.route_fixture("GET", EVENTS, "events/paged_2", params={"after": "ftevent-007"})
    api.route_fixture("GET", EVENTS, "events/paged_3", params={"after": "ftevent-004"})
    api.route_fixture("GET", EVENTS, "events/paged_1")
    result = run_cli("events", "-i", JOB, "--all", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [e["id"] for e in body["data"]] == [f"ftevent-00{n}" for n in range(9, 0, -1)]
    assert body["has_more"] is False
    text = run_cli("events", "-i", JOB, "--all").stdout.splitlines()
    assert len(text) == 9


# -- tables --------------------------------------------------------------------------------------


def _screen(monkeypatch: pytest.MonkeyPatch, width: int) -> io.StringIO:
    screen = io.StringIO()
    console = Console(
        file=screen, force_terminal=True, width=width, markup=False, emoji=False, no_color=True
    )
    monkeypatch.setattr(_output, "out_console", lambda: console)
    monkeypatch.setattr(_output, "stdout_is_tty", lambda: True)
    return screen


@pytest.mark.parametrize("width", [60, 80, 120])
def test_ids_and_model_names_are_never_cut(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    job = fixture_json("jobs/succeeded")
    job["id"] = "ftjob-gtJsThJv07In9ZMJLxYz1234"
    job["fine_tuned_model"] = "ft:davinci-002:org-mock:books:Kpslm0lc"
    page = {"object": "list", "data": [job], "has_more": False}
    screen = _screen(monkeypatch, width)
    _render.print_jobs(page["data"])
    text = screen.getvalue()
    assert "ftjob-gtJsThJv07In9ZMJLxYz1234" in text
    assert "ft:davinci-002:org-mock:books:Kpslm0lc" in text  # not 📚, not cut
    assert "…" not in text
    if width == 60:
        assert "trained tokens" not in text  # dropped to make room


def test_wide_shows_every_column(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = _screen(monkeypatch, 60)
    _render.print_jobs([fixture_json("jobs/succeeded")], wide=True)
    header = screen.getvalue().splitlines()[0]
    for column in ("id", "model", "status", "fine-tuned model", "created", "trained tokens"):
        assert column in header


def test_api_strings_are_never_markup_or_emoji(
    run_cli: RunCli, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = fixture_json("models/list")
    models["data"][0]["id"] = "[bold]davinci-002[/bold] :books:"
    api.route_response("GET", "/models", lambda request: _json(models))
    monkeypatch.setattr(_output, "stdout_is_tty", lambda: True)
    result = run_cli("models", "list")
    assert "[bold]davinci-002[/bold] :books:" in result.stdout
    assert BOOKS in result.stdout and "📚" not in result.stdout


def _json(body: object) -> object:
    import httpx

    return httpx.Response(200, headers={"content-type": "application/json"}, json=body)


def test_columns_drop_whole_before_timestamps_wrap() -> None:
    job = fixture_json("jobs/succeeded")
    rows = [_render.job_row(job)]
    headers = [c.header for c in _render.JOB_COLUMNS]
    natural = _render.render_width(_render.JOB_COLUMNS, rows, 0, wide=True)
    shown = _render.fitting_columns(_render.JOB_COLUMNS, rows, natural - 1)
    assert [headers[i] for i in shown] == [
        "id",
        "model",
        "status",
        "fine-tuned model",
        "created",
    ]  # the token count goes first; `created` is never wrapped


def test_wrapping_text_shrinks_rather_than_goes() -> None:
    from ftctl.cli.files import FILE_COLUMNS, _file_row

    rows = [_file_row(fixture_json("files/list")["data"][0])]
    shown = _render.fitting_columns(FILE_COLUMNS, rows, 50)
    assert [FILE_COLUMNS[i].header for i in shown] == ["id", "filename", "purpose"]
