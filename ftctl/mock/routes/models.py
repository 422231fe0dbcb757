"""/v1/models: the base models and your tunes."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ftctl.mock.http import Call, endpoint


async def list_models(call: Call) -> Response:
    return Response(call.store.model_list(), media_type="application/json")


async def retrieve_model(call: Call) -> dict[str, Any]:
    return call.store.model(call.path["model"])


async def delete_model(call: Call) -> dict[str, Any]:
    name = call.path["model"]
    call.store.delete_model(name)
    return {"id": name, "object": "model", "deleted": True}


ROUTES = [
    endpoint("GET", "/v1/models", list_models),
    endpoint("GET", "/v1/models/{model}", retrieve_model),
    endpoint("DELETE", "/v1/models/{model}", delete_model),
]
