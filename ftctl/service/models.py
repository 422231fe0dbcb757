"""Models: delete a tune (only its owner may)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ftctl.service._raw import json_object

if TYPE_CHECKING:
    import openai


class ModelsService:
    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    def retrieve(self, model: str) -> dict[str, Any]:
        return json_object(self._client.models.with_raw_response.retrieve(model))

    def delete(self, model: str) -> dict[str, Any]:
        return json_object(self._client.models.with_raw_response.delete(model))
