"""Trying a model: /v1/completions for completion models and their tunes, chat otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ftctl.errors import FtctlError
from ftctl.models import uses_completions_endpoint
from ftctl.service._raw import json_object

if TYPE_CHECKING:
    import openai


@dataclass(frozen=True)
class CompletionRequest:
    model: str
    prompt: str
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] = field(default_factory=list)
    n: int | None = None
    system: str | None = None

    @property
    def is_chat(self) -> bool:
        return not uses_completions_endpoint(self.model)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model}
        if self.is_chat:
            messages = [{"role": "system", "content": self.system}] if self.system else []
            messages.append({"role": "user", "content": self.prompt})
            body["messages"] = messages
        else:
            body["prompt"] = self.prompt
        if self.max_tokens is not None:
            # Chat models take max_completion_tokens (max_tokens is deprecated there).
            body["max_completion_tokens" if self.is_chat else "max_tokens"] = self.max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.stop:
            body["stop"] = self.stop if len(self.stop) > 1 else self.stop[0]
        if self.n is not None:
            body["n"] = self.n
        return body


def choice_texts(response: dict[str, Any]) -> list[str]:
    """The generated text of each choice, in index order, for either endpoint."""
    choices = sorted(response.get("choices") or [], key=lambda c: c.get("index", 0))
    texts = []
    for choice in choices:
        if "message" in choice:
            texts.append((choice.get("message") or {}).get("content") or "")
        else:
            texts.append(choice.get("text") or "")
    return texts


def chunk_deltas(chunk: dict[str, Any]) -> list[tuple[int, str]]:
    """(choice index, new text) pairs carried by one streamed chunk."""
    deltas = []
    for choice in chunk.get("choices") or []:
        if "delta" in choice:
            text = (choice.get("delta") or {}).get("content") or ""
        else:
            text = choice.get("text") or ""
        if text:
            deltas.append((int(choice.get("index", 0)), text))
    return deltas


class ModelNotFound(FtctlError):
    """The service does not know the model (or, on Azure, has no deployment of that name)."""


def deploy_first_hint(model: str, then: str = "ftctl complete -m DEPLOYMENT_NAME ...") -> str:
    """What to do on Azure, where a model answers only through a deployment of it."""
    return (
        f"on Azure OpenAI a model answers only once deployed, and deploying is outside this "
        f"API: deploy {model} (Azure AI Foundry portal, or `az cognitiveservices account "
        f"deployment create`), then: {then}"
    )


MODELS_HINT = "`ftctl models list` shows the models this key can use"


class CompletionsService:
    def __init__(self, client: openai.OpenAI, *, azure: bool = False) -> None:
        self._client = client
        self._azure = azure

    @contextmanager
    def _known_model(self, model: str) -> Iterator[None]:
        import openai

        try:
            yield
        except openai.NotFoundError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            message = body.get("message") or f"model '{model}' not found"
            raise ModelNotFound(
                f"{message} (HTTP 404, request {exc.request_id or '-'})",
                hint=deploy_first_hint(model) if self._azure else MODELS_HINT,
            ) from exc

    def create(self, request: CompletionRequest) -> dict[str, Any]:
        body = request.body()
        with self._known_model(request.model):
            if request.is_chat:
                raw = self._client.chat.completions.with_raw_response.create(**body)
            else:
                raw = self._client.completions.with_raw_response.create(**body)
        return json_object(raw)

    def stream(self, request: CompletionRequest) -> Iterator[dict[str, Any]]:
        """Chunk objects as the server sends them (SSE, ended by `data: [DONE]`)."""
        body = request.body()
        if request.is_chat:
            with self._known_model(request.model):
                chat_stream = self._client.chat.completions.create(**body, stream=True)
            for chat_chunk in chat_stream:
                yield chat_chunk.to_dict()
        else:
            with self._known_model(request.model):
                text_stream = self._client.completions.create(**body, stream=True)
            for text_chunk in text_stream:
                yield text_chunk.to_dict()
