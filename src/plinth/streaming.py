"""A stream's engine chunks as the client gets them.

Each chunk gets the request's id and public model name, placeholders the
privacy policy put in are restored (text held back at a possible placeholder
comes out at the end), usage and timings go into the request's accounting,
and the usage chunk is sent only if the client asked for it.

An OpenAI-compatible upstream's chunks come as :class:`RawChunk` s (the bytes
it sent). Once the first output is out, a chunk that only carries more output
is not decoded: its leading ``id`` and ``model`` are swapped in its bytes and
the rest goes on as it came (``"usage": null`` dropped). Anything else (a
finish reason, usage, llama.cpp's timings, an unusual key order, a possible
placeholder while redacting) is decoded and shaped as before. The text sent
is kept as bytes and decoded only if it is needed (no usage was reported, or
the response cache records the stream). Chunks already read together (a busy
loop finds several in one read, or a local model's tokens arrive within one
loop tick) leave together, as one write.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterable

from plinth.engines.base import Engine, Json
from plinth.engines.openai_compat import OpenAICompatEngine
from plinth.engines.upstream_http import RawChunk
from plinth.metering.accounting import Accounting
from plinth.privacy.redaction import ChunkRestorer
from plinth.routing.state import DeploymentState
from plinth.server.direct_body import DIRECT_BODY, DirectBody
from plinth.tokens import chunk_text

# A chunk's head: its "id" first, then only scalar top-level fields (object,
# created, system_fingerprint, ...) up to its "model", as OpenAI, vLLM,
# llama-server and most others send it. Anchored at the start and stepping over
# scalars only, it can match top-level keys alone.
_HEAD = re.compile(
    rb'\{\s*"id"\s*:\s*"[^"\\]*"'
    rb'((?:\s*,\s*"\w+"\s*:\s*(?:"[^"\\]*"|-?\d+|null))*?\s*,\s*"model"\s*:\s*)'
    rb'"[^"\\]*"'
)
# What sends a chunk down the decoding path. Inside a JSON string every quote
# is escaped, so these cannot match the text of the output itself.
_LOOK_INTO = re.compile(rb'"(?:usage"\s*:\s*\{|timings"|finish_reason"\s*:\s*"|error")')
_NULL_USAGE = re.compile(rb',\s*"usage"\s*:\s*null')


def engine_stream(engine: Engine, body: Json, *, is_chat: bool) -> AsyncIterator[Json | RawChunk]:
    """The engine's stream: raw chunks from an OpenAI-compatible upstream, dicts otherwise."""
    if isinstance(engine, OpenAICompatEngine):
        return engine.stream_raw(body, is_chat=is_chat)
    return engine.chat_stream(body) if is_chat else engine.complete_stream(body)


def as_json(chunk: Json | RawChunk) -> Json:
    return chunk.json if isinstance(chunk, RawChunk) else chunk


def sse_frame(piece: Json | bytes) -> bytes:
    """One server-sent event as OpenAI frames it; bytes are a chunk's JSON already."""
    if not isinstance(piece, bytes):
        piece = json.dumps(piece, ensure_ascii=False, separators=(",", ":")).encode()
    return b"data: " + piece + b"\n\n"


async def sse_batches(
    shaper: StreamShaper, held: Iterable[Json | RawChunk], chunks: AsyncIterator[Json | RawChunk]
) -> AsyncGenerator[bytes, None]:
    """The stream's client frames; chunks that were read together go out together.

    The chunks held back before the first output (a role-only delta, then the
    first output) were all read before the first frame: they leave in one
    write, so the first output goes out with the response's first body. After
    that a batch is only ever extended with a chunk that is already here (an
    upstream's ``RawChunk.more``; a local engine's stream saying it has more
    ``buffered``), so nothing waits for company.

    Once frames are out, a local engine's stream is diverted where the server
    allows it (:func:`_divert`): its worker thread shapes the chunks and writes
    their frames to the socket itself, and this generator waits for the end.
    """
    batch: list[bytes] = []
    direct: DirectBody | None = None
    may_divert = shaper.restorer is None and hasattr(chunks, "divert")

    def add(chunk: Json | RawChunk) -> bool:
        """Shape ``chunk`` into the batch; True if the next chunk is already here."""
        batch.extend(sse_frame(piece) for piece in shaper.shape(chunk))
        if isinstance(chunk, RawChunk):
            return chunk.more
        return bool(getattr(chunks, "buffered", 0))

    def flush() -> bytes:
        if direct is not None:
            direct.send_unsent()  # what the worker's last write left goes first
        out = b"".join(batch)
        batch.clear()
        return out

    try:
        ready = False
        for chunk in held:
            ready = add(chunk)
        if batch and not ready:
            yield flush()
            if may_divert:
                direct = _divert(shaper, chunks)
        async for chunk in chunks:
            if not add(chunk) and batch:
                yield flush()
                if may_divert and direct is None:
                    direct = _divert(shaper, chunks)
    except Exception:
        if batch:  # what was read before the failure still goes out, then the error
            yield flush()
        raise
    finally:
        if direct is not None:
            # No more direct writes (one under way ends first); its rest goes out.
            await chunks.aclose()  # type: ignore[attr-defined]
            direct.close()
    batch.extend(sse_frame(piece) for piece in shaper.leftovers())
    if batch:
        yield flush()


def _divert(shaper: StreamShaper, chunks: AsyncIterator[Json | RawChunk]) -> DirectBody | None:
    """The rest of a local engine's stream written by the thread its chunks arrive
    on (:mod:`plinth.server.direct_body`), if the server offers that now."""
    opener = DIRECT_BODY.get()
    waiting: int = getattr(chunks, "buffered", 0)
    if opener is None or waiting:
        return None  # chunks are waiting for this loop: they go first, try at the next flush
    body = opener()
    if body is None:
        return None

    def take(chunk: Json) -> bool:
        frames = b"".join(sse_frame(piece) for piece in shaper.shape(chunk))
        return body.write(frames) if frames else True

    if not chunks.divert(take):  # type: ignore[attr-defined]
        body.close()
        return None
    return body


def has_output(chunk: Json) -> bool:
    """Whether a chunk carries text or a tool call (not just a role or a finish)."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or choice.get("text"):
            return True
    return False


class StreamShaper:
    def __init__(
        self,
        acct: Accounting,
        *,
        model: str,
        include_usage: bool,
        state: DeploymentState,
        is_chat: bool,
        usage_source: str,
    ):
        self.acct, self.model, self.include_usage = acct, model, include_usage
        self.state, self.is_chat, self.usage_source = state, is_chat, usage_source
        self.id = ("chatcmpl-" if is_chat else "cmpl-") + acct.request_id
        # The text sent, for an estimate if no usage comes or for the response
        # cache: a str per decoded chunk, the bytes of each chunk forwarded as is.
        self.output: list[str | bytes] = []
        redactor = acct.privacy.redactor if acct.redacted and acct.privacy else None
        self.restorer = ChunkRestorer(redactor) if redactor is not None else None
        self._head = b'{"id":' + json.dumps(self.id).encode()
        self._model = json.dumps(model, ensure_ascii=False).encode()

    def text(self) -> str:
        """The output text sent so far (decodes the chunks forwarded as bytes)."""
        return "".join(p if isinstance(p, str) else chunk_text(json.loads(p)) for p in self.output)

    def shape(self, chunk: Json | RawChunk) -> list[Json | bytes]:
        """One engine chunk as zero, one or two client chunks (dicts, or a chunk's
        JSON as bytes)."""
        if isinstance(chunk, RawChunk):
            if chunk.decoded is None and self.acct.ttft_s is not None:
                data = self._rewrite(chunk.data)
                if data is not None:
                    return [data]
            chunk = chunk.json
        return self._shape(chunk)

    def _rewrite(self, data: bytes) -> bytes | None:
        """A chunk that only carries more output with the request's id and model
        swapped in; None if it needs a closer look."""
        head = _HEAD.match(data)
        if head is None or _LOOK_INTO.search(data, head.end()) is not None:
            return None
        tail = data[head.end() :]
        # Redacting: a chunk goes through the restorer if it may hold a placeholder
        # (a "[" beyond the choices list) or one is being held back.
        if self.restorer is not None and (tail.count(b"[") != 1 or self.restorer.holding()):
            return None
        if b'"usage"' in tail:
            tail = _NULL_USAGE.sub(b"", tail)
        out = b"".join((self._head, head[1], self._model, tail))
        self.output.append(out)
        return out

    def _shape(self, chunk: Json) -> list[Json | bytes]:
        acct = self.acct
        if self.restorer is not None:
            self.restorer.process(chunk)
        acct.take_timings(chunk.pop("timings", None))
        chunk["id"] = self.id
        chunk["model"] = self.model
        usage = chunk.pop("usage", None)
        out: list[Json | bytes] = []
        if usage:
            acct.take_usage(usage, self.usage_source)
        if chunk.get("choices"):
            for choice in chunk["choices"]:
                acct.finish_reason = choice.get("finish_reason") or acct.finish_reason
            if has_output(chunk):
                if acct.ttft_s is None:
                    acct.first_token()
                    self.state.observe_ttft(acct.ttft_s or 0.0)
                self.output.append(chunk_text(chunk))
            out.append(chunk)
        if usage and self.include_usage:
            # Its own last chunk with no choices, as OpenAI sends it, even
            # where an engine put the finish reason and usage in one.
            out.append({**chunk, "choices": [], "usage": acct.usage_json(usage)})
        return out

    def leftovers(self) -> list[Json]:
        """Placeholder text held back at the end of the stream, restored."""
        if self.restorer is None:
            return []
        key = "delta" if self.is_chat else "text"
        return [
            {
                "id": self.id,
                "object": "chat.completion.chunk" if self.is_chat else "text_completion",
                "model": self.model,
                "choices": [
                    {
                        "index": index,
                        key: {"content": text} if self.is_chat else text,
                        "finish_reason": None,
                    }
                ],
            }
            for index, text in self.restorer.leftovers()
        ]
