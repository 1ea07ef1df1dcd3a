"""The engine contract: what the gateway needs from any model backend.

Engines speak OpenAI wire dicts both ways, so a remote OpenAI-compatible
backend is a thin pass-through and a local one adapts its runtime to them.
The gateway owns everything else: auth, validation, usage, metrics, errors.

- ``chat`` / ``complete`` return one OpenAI response dict (with ``usage``).
- ``chat_stream`` / ``complete_stream`` yield OpenAI chunk dicts; the last one
  carries ``usage`` (the gateway asks for it and strips it if the client did
  not). Closing the iterator early (``aclose``) must stop generation.
- ``embed`` returns vectors in input order plus the prompt tokens counted.
- ``forward`` sends a pass-through request (rerank, audio, images,
  moderations) as it is, with the engine's model name, and returns the
  upstream's answer unread; it raises before returning if the upstream refused.
- Failures raise :class:`plinth.errors.PlinthError` subclasses.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from plinth.errors import InvalidRequest

ModelKind = Literal["chat", "embedding"]
Json = dict[str, Any]


@contextlib.asynccontextmanager
async def closing_stream(chunks: AsyncIterator[Json]) -> AsyncIterator[AsyncIterator[Json]]:
    """``chunks``, closed however the ``async with`` ends.

    A generator that relays another stream must pass an early close on (the
    client went away, a batch lane was released): ``aclose`` is what stops
    generation, and a bare ``async for`` leaves the inner stream to the
    garbage collector instead.
    """
    try:
        yield chunks
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    prompt_tokens: int


@dataclass(frozen=True)
class FormPart:
    """One part of a multipart upload: a text field, or a file with a name and type."""

    name: str
    value: str | bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Outbound:
    """A pass-through request: the path below the base URL and a JSON or multipart body."""

    path: str
    json: Json | None = None
    form: list[FormPart] = field(default_factory=list)


@dataclass
class Inbound:
    """An upstream's successful answer, its body not read yet: iterate ``chunks``,
    then (or instead) call ``close`` to free the connection."""

    content_type: str
    chunks: AsyncIterator[bytes]
    close: Callable[[], None]


class Engine(ABC):
    """One loaded model (or one upstream deployment) of one kind."""

    # True for engines that run local catalog models in this process (they are
    # built at start-up into the pool); remote ones are built from a Deployment.
    is_local: ClassVar[bool] = False

    def __init__(self, model_id: str, kind: ModelKind):
        self.model_id = model_id
        self.kind = kind

    @abstractmethod
    async def start(self) -> None:
        """Load or connect; called once before the first request."""

    @abstractmethod
    async def close(self) -> None:
        """Release native resources; in-flight calls may be cut off."""

    def _unsupported(self, what: str) -> InvalidRequest:
        return InvalidRequest(
            f"Model '{self.model_id}' is a {self.kind} model and does not support {what}",
            param="model",
            code="model_not_supported",
        )

    async def chat(self, body: Json) -> Json:
        raise self._unsupported("chat completions")

    def chat_stream(self, body: Json) -> AsyncIterator[Json]:
        raise self._unsupported("chat completions")

    async def complete(self, body: Json) -> Json:
        raise self._unsupported("text completions")

    def complete_stream(self, body: Json) -> AsyncIterator[Json]:
        raise self._unsupported("text completions")

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        raise self._unsupported("embeddings")

    async def forward(self, outbound: Outbound) -> Inbound:
        raise self._unsupported(outbound.path.lstrip("/"))

    async def health(self) -> None:  # noqa: B027 - optional hook; in-process engines are alive
        """Raise if the engine cannot serve now; the router probes remote ones."""

    def describe(self) -> Json:
        """Facts for ``/v1/models`` and ``plinth models list``."""
        return {"kind": self.kind}
