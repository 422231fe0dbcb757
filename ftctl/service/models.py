"""Models: list, retrieve, and delete a tune (only its owner may)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ftctl.models import base_model
from ftctl.service._raw import json_object

if TYPE_CHECKING:
    import openai


def is_fine_tuned(model: dict[str, Any]) -> bool:
    """A tune or one of its checkpoints (`ft:BASE:...`): a name that is not its own base."""
    name = str(model.get("id", ""))
    return base_model(name) != name


class ModelsService:
    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    def list(self) -> dict[str, Any]:
        """Every model the key can use (the endpoint is not paged)."""
        return json_object(self._client.models.with_raw_response.list())

    def retrieve(self, model: str) -> dict[str, Any]:
        return json_object(self._client.models.with_raw_response.retrieve(model))

    def delete(self, model: str) -> dict[str, Any]:
        return json_object(self._client.models.with_raw_response.delete(model))
