"""Checkpoint permissions: share a tuned checkpoint with other projects of the organization, list
and remove those shares (/fine_tuning/checkpoints/{checkpoint}/permissions). The service takes
these only with an admin API key; a refusal becomes `AdminKeyRequired`, which says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from ftctl.errors import FtctlError
from ftctl.service._raw import RawResponse, json_object

if TYPE_CHECKING:
    import openai

ADMIN_KEY_HINT = (
    "checkpoint permissions need an admin API key (an organization owner creates one under "
    "the organization's Admin keys): run the command again with OPENAI_API_KEY set to it"
)

Order = Literal["ascending", "descending"]


class AdminKeyRequired(FtctlError):
    """The service refused a permissions call: the key is not an admin key."""


@contextmanager
def _admin_only() -> Iterator[None]:
    import openai

    try:
        yield
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") or exc.message
        raise AdminKeyRequired(
            f"{message} (HTTP {exc.status_code}, request {exc.request_id or '-'})",
            hint=ADMIN_KEY_HINT,
        ) from exc


class CheckpointsService:
    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    def _call(self, request: Callable[[], RawResponse]) -> dict[str, Any]:
        with _admin_only():
            return json_object(request())

    def share(self, checkpoint: str, project_ids: Sequence[str]) -> dict[str, Any]:
        """Grant each project access to the checkpoint; the answer lists the new permissions."""
        permissions = self._client.fine_tuning.checkpoints.permissions.with_raw_response
        return self._call(lambda: permissions.create(checkpoint, project_ids=list(project_ids)))

    def permissions_page(
        self,
        checkpoint: str,
        *,
        project_id: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        order: Order | None = None,
    ) -> dict[str, Any]:
        import openai

        permissions = self._client.fine_tuning.checkpoints.permissions.with_raw_response
        return self._call(
            lambda: permissions.list(
                checkpoint,
                project_id=project_id if project_id is not None else openai.omit,
                limit=limit if limit is not None else openai.omit,
                after=after if after is not None else openai.omit,
                order=order if order is not None else openai.omit,
            )
        )

    def permissions_all(
        self, checkpoint: str, *, project_id: str | None = None, page_size: int = 100
    ) -> dict[str, Any]:
        """Every page merged under `data`, in the API's order."""
        first = self.permissions_page(checkpoint, project_id=project_id, limit=page_size)
        merged = dict(first)
        data = list(first.get("data") or [])
        page = first
        while page.get("has_more") and page.get("data"):
            after = str(page["data"][-1]["id"])
            page = self.permissions_page(
                checkpoint, project_id=project_id, limit=page_size, after=after
            )
            data.extend(page.get("data") or [])
        merged["data"] = data
        merged["has_more"] = False
        if data:
            merged["last_id"] = data[-1].get("id")
        return merged

    def unshare(self, checkpoint: str, permission_id: str) -> dict[str, Any]:
        permissions = self._client.fine_tuning.checkpoints.permissions.with_raw_response
        return self._call(
            lambda: permissions.delete(permission_id, fine_tuned_model_checkpoint=checkpoint)
        )
