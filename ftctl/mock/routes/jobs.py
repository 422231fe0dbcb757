"""/v1/fine_tuning/jobs: create, list, retrieve, cancel, pause, resume, events, checkpoints."""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ftctl.mock import params
from ftctl.mock.http import Call, endpoint, page
from ftctl.mock.records import Job

_METADATA_KEY = re.compile(r"metadata\[(.+)\]")


def _job(call: Call, job: Job) -> Response:
    return Response(job.json_bytes(call.now, call.store.org_id), media_type="application/json")


async def create_job(call: Call) -> Response:
    store = call.store
    draft = store.draft_job(params.job_request(call.body), call.now)
    try:
        # Reading a new file and grading a reinforcement job's answers take seconds: on a worker
        # thread, so other requests are answered meanwhile.
        work = await run_in_threadpool(draft.work) if draft.slow else draft.work()
    except BaseException:
        store.drop_draft(draft)
        raise
    return _job(call, store.keep_job(draft, work))


async def list_jobs(call: Call) -> Response:
    limit = call.query_int("limit", 20, 1, 100)
    filters: dict[str, str] = {}
    no_metadata = False
    for key, value in call.query.multi_items():
        match = _METADATA_KEY.fullmatch(key)
        if match:
            filters[match.group(1)] = value
        elif key == "metadata" and value == "null":
            no_metadata = True
    jobs = call.store.jobs_newest_first(call.query.get("after"), filters, no_metadata)
    chosen = list(islice(jobs, limit + 1))
    org = call.store.org_id
    data = b",".join(job.json_bytes(call.now, org) for job in chosen[:limit])
    more = b"true" if len(chosen) > limit else b"false"
    body = b'{"object":"list","data":[' + data + b'],"has_more":' + more + b"}"
    return Response(body, media_type="application/json")


async def retrieve_job(call: Call) -> Response:
    return _job(call, call.store.job(call.path["job_id"]))


async def cancel_job(call: Call) -> Response:
    return _job(call, call.store.cancel_job(call.path["job_id"], call.now))


async def pause_job(call: Call) -> Response:
    return _job(call, call.store.pause_job(call.path["job_id"], call.now))


async def resume_job(call: Call) -> Response:
    return _job(call, call.store.resume_job(call.path["job_id"], call.now))


async def list_events(call: Call) -> dict[str, Any]:
    job = call.store.job(call.path["job_id"])
    limit = call.query_int("limit", 20, 1, 10_000)
    data, has_more = job.events_page(call.now, call.query.get("after"), limit)
    return {"object": "list", "data": data, "has_more": has_more}


async def list_checkpoints(call: Call) -> dict[str, Any]:
    job = call.store.job(call.path["job_id"])
    limit = call.query_int("limit", 10, 1, 100)
    data, has_more = page(job.checkpoints(call.now), call.query.get("after"), limit)
    return {
        "object": "list",
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


ROUTES = [
    endpoint("POST", "/v1/fine_tuning/jobs", create_job, body="json"),
    endpoint("GET", "/v1/fine_tuning/jobs", list_jobs),
    endpoint("GET", "/v1/fine_tuning/jobs/{job_id}", retrieve_job),
    endpoint("POST", "/v1/fine_tuning/jobs/{job_id}/cancel", cancel_job),
    endpoint("POST", "/v1/fine_tuning/jobs/{job_id}/pause", pause_job),
    endpoint("POST", "/v1/fine_tuning/jobs/{job_id}/resume", resume_job),
    endpoint("GET", "/v1/fine_tuning/jobs/{job_id}/events", list_events),
    endpoint("GET", "/v1/fine_tuning/jobs/{job_id}/checkpoints", list_checkpoints),
]
