"""/v1/files: upload, list, retrieve, delete, download."""

from __future__ import annotations

from itertools import islice
from typing import Any

from starlette.responses import FileResponse

from ftctl.mock import errors
from ftctl.mock.http import Call, FormLimit, endpoint

# Purposes whose content the service refuses to hand back (fixtures/api/errors/download_refused).
UNDOWNLOADABLE_PURPOSES = frozenset({"fine-tune"})


async def create_file(call: Call) -> dict[str, Any]:
    upload = call.form.get("file")
    if upload is None or upload.filename is None:
        raise errors.missing("file")
    if "purpose" not in call.form:
        raise errors.missing("purpose")
    purpose = call.form["purpose"].text()
    source = upload.path or upload.data
    return call.store.upload_file(upload.filename, purpose, source, call.now).as_json()


async def list_files(call: Call) -> dict[str, Any]:
    order = call.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise errors.invalid_order(order)
    limit = call.query_int("limit", 10_000, 1, 10_000)
    records = call.store.list_files(
        call.query.get("purpose"), descending=order == "desc", after=call.query.get("after")
    )
    chosen = list(islice(records, limit + 1))
    data, has_more = [f.as_json() for f in chosen[:limit]], len(chosen) > limit
    # The description requires both ids as strings; an empty page has no ids to give.
    return {
        "object": "list",
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else "",
        "last_id": data[-1]["id"] if data else "",
    }


async def retrieve_file(call: Call) -> dict[str, Any]:
    return call.store.file(call.path["file_id"]).as_json()


async def delete_file(call: Call) -> dict[str, Any]:
    record = call.store.delete_file(call.path["file_id"])
    return {"id": record.id, "object": "file", "deleted": True}


async def file_content(call: Call) -> FileResponse:
    record = call.store.file(call.path["file_id"])
    if record.purpose in UNDOWNLOADABLE_PURPOSES:
        raise errors.download_refused(record.purpose)
    return FileResponse(record.path, media_type="application/octet-stream")


ROUTES = [
    endpoint(
        "POST",
        "/v1/files",
        create_file,
        body="form",
        form_limit=FormLimit("file", lambda limits: limits.file_bytes),
    ),
    endpoint("GET", "/v1/files", list_files),
    endpoint("GET", "/v1/files/{file_id}", retrieve_file),
    endpoint("DELETE", "/v1/files/{file_id}", delete_file),
    endpoint("GET", "/v1/files/{file_id}/content", file_content),
]
