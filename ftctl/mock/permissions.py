"""Checkpoint permissions: sharing a tuned model or checkpoint with other projects of the org.

    POST   /v1/fine_tuning/checkpoints/{checkpoint}/permissions   {"project_ids": [...]}
    GET    /v1/fine_tuning/checkpoints/{checkpoint}/permissions   ?project_id, after, limit, order
    DELETE /v1/fine_tuning/checkpoints/{checkpoint}/permissions/{permission_id}

On the real service these take an admin key. The mock accepts any key unless it was created with
`admin_keys_only=True`; then only keys that look like admin keys (`sk-admin-...`) pass, and
others get a 403 naming what is needed, so a client's "you need an admin key" path is testable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ftctl.mock import errors
from ftctl.mock.errors import invalid_type, missing
from ftctl.mock.http import Call, endpoint
from ftctl.mock.store import Store

BASE = "/v1/fine_tuning/checkpoints/{checkpoint:path}/permissions"
ADMIN_PREFIX = "sk-admin-"


@dataclass
class Permission:
    id: str
    created_at: int
    project_id: str
    seq: int

    def as_json(self) -> dict[str, Any]:
        return {
            "object": "checkpoint.permission",
            "id": self.id,
            "created_at": self.created_at,
            "project_id": self.project_id,
        }


@dataclass
class PermissionBook:
    """Every checkpoint's permissions; the rules of sharing live here, the routes below."""

    store: Store
    admin_keys_only: bool = False
    by_checkpoint: dict[str, list[Permission]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # With `--state`, permissions outlive a restart like everything else.
        if self.store.db is not None:
            for permission_id, seq, row in self.store.db.load("permission"):
                permission = Permission(permission_id, row["created_at"], row["project_id"], seq)
                self.by_checkpoint.setdefault(row["checkpoint"], []).append(permission)

    def check_checkpoint(self, name: str, now: float) -> None:
        if self.store.tuned_or_checkpoint(name, now) is None:
            raise errors.checkpoint_not_found(name)

    def share(self, name: str, project_ids: list[str], now: float) -> list[Permission]:
        existing = {p.project_id for p in self.by_checkpoint.get(name, [])}
        for i, project in enumerate(project_ids):
            if not project.startswith("proj_"):
                raise errors.bad_project_id(i, project)
            if project in existing or project_ids.index(project) != i:
                raise errors.already_shared(i, name, project)
        created = [
            Permission(self.store.new_id("cp_"), int(now), p, self.store.next_seq())
            for p in project_ids
        ]
        self.by_checkpoint.setdefault(name, []).extend(created)
        if self.store.db is not None:
            for p in created:
                row = {"checkpoint": name, "project_id": p.project_id, "created_at": p.created_at}
                self.store.db.save("permission", p.id, p.seq, row)
        return created

    def unshare(self, name: str, permission_id: str) -> Permission:
        for permission in self.by_checkpoint.get(name, []):
            if permission.id == permission_id:
                self.by_checkpoint[name].remove(permission)
                if self.store.db is not None:
                    self.store.db.delete("permission", permission.id)
                return permission
        raise errors.permission_not_found(permission_id, name)

    def listed(self, name: str, project_id: str | None, descending: bool) -> list[Permission]:
        found = [
            p
            for p in self.by_checkpoint.get(name, [])
            if project_id is None or p.project_id == project_id
        ]
        return sorted(found, key=lambda p: (p.created_at, p.seq), reverse=descending)


def _list_body(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


def _book(call: Call) -> PermissionBook:
    book: PermissionBook = call.request.app.state.permissions
    if book.admin_keys_only:
        key = call.request.headers.get("authorization", "").partition(" ")[2].strip()
        if not key.startswith(ADMIN_PREFIX):
            raise errors.admin_key_required()
    book.check_checkpoint(call.path["checkpoint"], call.now)
    return book


async def create(call: Call) -> dict[str, Any]:
    book = _book(call)
    projects = call.body.get("project_ids")
    if projects is None:
        raise missing("project_ids")
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        raise invalid_type("project_ids", "an array of strings", projects)
    if not projects:
        raise errors.empty_array("project_ids")
    created = book.share(call.path["checkpoint"], [str(p) for p in projects], call.now)
    return _list_body([p.as_json() for p in created], False)


async def list_permissions(call: Call) -> dict[str, Any]:
    book = _book(call)
    order = call.query.get("order", "descending")
    if order not in ("ascending", "descending"):
        raise errors.permission_order(order)
    limit = call.query_int("limit", 10, 1, 100)
    found = book.listed(
        call.path["checkpoint"], call.query.get("project_id"), order == "descending"
    )
    items = [p.as_json() for p in found]
    after = call.query.get("after")
    start = 0
    if after:
        ids = [p["id"] for p in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    data = items[start : start + limit]
    return _list_body(data, start + limit < len(items))


async def delete(call: Call) -> dict[str, Any]:
    book = _book(call)
    gone = book.unshare(call.path["checkpoint"], call.path["permission_id"])
    return {"object": "checkpoint.permission", "id": gone.id, "deleted": True}


ROUTES = [
    endpoint("POST", BASE, create, body="json"),
    endpoint("GET", BASE, list_permissions),
    endpoint("DELETE", BASE + "/{permission_id}", delete),
]
