"""Ollama API requests (``/api/chat``, ``/api/generate``, ``/api/embed`` …), as accepted inbound.

The fields are those the official clients send. Unknown fields are refused,
as for Plinth's other APIs, so a typo is a 400 rather than silently ignored
(Ollama itself ignores them). ``options`` stays a dict: which options are
honoured, ignored or refused is decided while translating
(:mod:`plinth.api.ollama_translate`), where the refusal can explain itself.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from plinth.protocol.common import WireModel

Options = dict[str, Any]
KeepAlive = float | str | None


class OllamaMessage(WireModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_name: str | None = None
    thinking: str | None = None


class OllamaRequest(WireModel):
    model: str = Field(min_length=1)
    keep_alive: KeepAlive = None  # Plinth keeps its models loaded: accepted, no effect


class GenerationOptions(OllamaRequest):
    stream: bool | None = None  # Ollama streams unless told not to
    format: str | dict[str, Any] | None = None
    options: Options | None = None
    think: bool | str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)

    @property
    def streams(self) -> bool:
        return self.stream is not False


class ChatRequest(GenerationOptions):
    messages: list[OllamaMessage] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None


class GenerateRequest(GenerationOptions):
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None
    images: list[str] | None = None
    # Image generation fields of newer clients: refused when set.
    width: int | None = None
    height: int | None = None
    steps: int | None = None


class EmbedRequest(OllamaRequest):
    input: str | list[str]
    truncate: bool | None = None
    options: Options | None = None
    dimensions: int | None = Field(None, ge=1, le=65536)


class EmbeddingsRequest(OllamaRequest):
    """The older ``/api/embeddings``: one prompt, one vector."""

    prompt: str | None = None
    options: Options | None = None


class ShowRequest(WireModel):
    model: str | None = None
    name: str | None = None  # the field's older name
    verbose: bool | None = None
