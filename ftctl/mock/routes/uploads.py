"""/v1/uploads: a large file in parts."""

from __future__ import annotations

from typing import Any

from ftctl.mock import errors, params
from ftctl.mock.http import Call, FormLimit, endpoint


async def create_upload(call: Call) -> dict[str, Any]:
    body = call.body
    filename = params.required_string(body, "filename")
    purpose = params.required_string(body, "purpose")
    mime_type = params.required_string(body, "mime_type")
    size = body.get("bytes")
    if size is None:
        raise errors.missing("bytes")
    size = params.integer("bytes", size, 0, 2**63 - 1)
    upload = call.store.create_upload(filename, purpose, mime_type, size, call.now)
    return upload.as_json(call.now)


async def add_part(call: Call) -> dict[str, Any]:
    if "data" not in call.form:
        raise errors.missing("data")
    upload_id = call.path["upload_id"]
    data = call.form["data"]
    part_id = call.store.add_part(upload_id, data.path or data.data, call.now)
    return {
        "id": part_id,
        "object": "upload.part",
        "created_at": int(call.now),
        "upload_id": upload_id,
    }


async def complete_upload(call: Call) -> dict[str, Any]:
    part_ids = call.body.get("part_ids")
    if part_ids is None:
        raise errors.missing("part_ids")
    if not isinstance(part_ids, list) or not all(isinstance(p, str) for p in part_ids):
        raise errors.invalid_type("part_ids", "an array of strings", part_ids)
    upload = call.store.complete_upload(
        call.path["upload_id"], part_ids, call.body.get("md5"), call.now
    )
    return upload.as_json(call.now)


async def cancel_upload(call: Call) -> dict[str, Any]:
    return call.store.cancel_upload(call.path["upload_id"], call.now).as_json(call.now)


ROUTES = [
    endpoint("POST", "/v1/uploads", create_upload, body="json"),
    endpoint(
        "POST",
        "/v1/uploads/{upload_id}/parts",
        add_part,
        body="form",
        form_limit=FormLimit("data", lambda limits: limits.part_bytes),
    ),
    endpoint("POST", "/v1/uploads/{upload_id}/complete", complete_upload, body="json"),
    endpoint("POST", "/v1/uploads/{upload_id}/cancel", cancel_upload),
]
