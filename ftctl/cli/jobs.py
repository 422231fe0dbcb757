"""Job commands that read or change one job: list, get, cancel, pause, resume, events.
(A job's checkpoints: ftctl/cli/checkpoints.py.)"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ftctl.cli import _output, _render
from ftctl.cli._following import jobs_service
from ftctl.cli._options import JobIdArg, JobIdOpt, JsonFlag, pick
from ftctl.errors import UsageError

# -- list, get, cancel, pause, resume ----------------------------------------------------------


JOB_STATUSES = (
    "validating_files",
    "queued",
    "running",
    "paused",
    "succeeded",
    "failed",
    "cancelled",
)

WideFlag = Annotated[
    bool,
    typer.Option("--wide", help="Show every column, however wide the table gets."),
]


def list_jobs(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100, help="Jobs per page, newest first.")
    ] = 20,
    all_pages: Annotated[bool, typer.Option("--all", help="Read every page.")] = False,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only jobs in this status (repeatable): " + ", ".join(JOB_STATUSES) + ".",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Only jobs of this base or tuned model.", show_default=False
        ),
    ] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option(
            "--metadata",
            help="Only jobs with this KEY=VALUE in their metadata (repeatable; the API filters).",
            show_default=False,
        ),
    ] = None,
    wide: WideFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """List fine-tuning jobs, newest first.

    --metadata is the API's own filter; --status and --model are applied by ftctl to the pages
    read (until --limit jobs match, or every page with --all). The output has the same shape
    either way: the list object, its `data` filtered.
    """
    from ftctl.cli.create import _parse_metadata

    statuses = set(status or [])
    unknown = sorted(statuses - set(JOB_STATUSES))
    if unknown:
        raise UsageError(
            f"unknown status '{unknown[0]}'", hint="one of: " + ", ".join(JOB_STATUSES)
        )
    meta = _parse_metadata(metadata or [])
    service = jobs_service()
    if statuses or model:

        def keep(job: dict[str, Any]) -> bool:
            if statuses and job.get("status") not in statuses:
                return False
            return not model or model in (job.get("model"), job.get("fine_tuned_model"))

        page = service.list_matching(keep, limit=None if all_pages else limit, metadata=meta)
    elif all_pages:
        page = service.list_all(page_size=limit, metadata=meta)
    else:
        page = service.list_page(limit=limit, metadata=meta)

    def render(page: dict[str, Any]) -> None:
        jobs = page.get("data") or []
        if not jobs:
            if statuses or model or meta:
                _output.note("No fine-tuning jobs match.")
            else:
                _output.note(
                    "No fine-tuning jobs yet: create one with `ftctl create -t FILE -m MODEL`."
                )
            return
        _render.print_jobs(jobs, wide=wide)
        if page.get("has_more") and not all_pages:
            _output.note(f"More jobs exist: pass --all, or --limit above {limit}.")

    _output.show(page, as_json, render)


def _show_job(job: dict[str, Any], as_json: bool) -> None:
    _output.show(job, as_json, lambda job: _render.print_summary(_render.job_summary(job)))


def get(job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False) -> None:
    """Show one fine-tuning job."""
    the_id = pick(job_id_arg, job_id, "job id")
    _show_job(jobs_service().retrieve(the_id), as_json)


def cancel(job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False) -> None:
    """Cancel a fine-tuning job that has not finished."""
    the_id = pick(job_id_arg, job_id, "job id")
    _show_job(jobs_service().cancel(the_id), as_json)


def pause(job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False) -> None:
    """Pause a running fine-tuning job (resume it later with `ftctl resume`)."""
    the_id = pick(job_id_arg, job_id, "job id")
    _show_job(jobs_service().pause(the_id), as_json)


def resume(job_id_arg: JobIdArg = None, job_id: JobIdOpt = None, as_json: JsonFlag = False) -> None:
    """Resume a paused fine-tuning job."""
    the_id = pick(job_id_arg, job_id, "job id")
    _show_job(jobs_service().resume(the_id), as_json)


def events(
    job_id_arg: JobIdArg = None,
    job_id: JobIdOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Events to show.")] = 20,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Every event of the job, page after page.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show a job's most recent events, oldest first (the page object verbatim with --json)."""
    service, the_id = jobs_service(), pick(job_id_arg, job_id, "job id")
    page = service.events_all(the_id) if all_pages else service.events_page(the_id, limit=limit)
    _output.show(page, as_json, _print_events)


def _print_events(page: dict[str, Any]) -> None:
    for event in reversed(page.get("data") or []):
        line = _render.event_line(event)
        if event.get("type") == "metrics" and event.get("data"):
            line += "  " + json.dumps(event["data"], separators=(",", ":"))
        _output.echo(line)


def register(app: typer.Typer) -> None:
    app.command("list")(list_jobs)
    app.command("get")(get)
    app.command("cancel")(cancel)
    app.command("pause")(pause)
    app.command("resume")(resume)
    app.command("events")(events)
