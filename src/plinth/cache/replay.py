"""A cached answer served again: whole, or as the stream a client asked for.

The stored answer is the whole response a client got (chat completion or
text completion). A streamed request replays it as the chunks a live stream
sends: a role chunk, the content, a finish chunk, and the usage chunk if the
client asked for one. A streamed miss is stored in the whole form too.
"""

from __future__ import annotations

import time
from typing import Any

from plinth.engines.base import Json

CHUNK_CHARS = 64  # replayed text per chunk: looks like a stream, costs few frames


def whole_from_stream(
    is_chat: bool, model: str, text: str, finish_reason: str | None, usage: Json
) -> Json:
    """The whole response a finished (text-only, single-choice) stream amounts to."""
    if is_chat:
        choice: Json = {"index": 0, "message": {"role": "assistant", "content": text}}
    else:
        choice = {"index": 0, "text": text}
    choice["finish_reason"] = finish_reason
    return {
        "object": "chat.completion" if is_chat else "text_completion",
        "model": model,
        "choices": [choice],
        "usage": usage,
    }


def _pieces(text: str) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


def _chat_chunks(choice: Json) -> list[tuple[Json, str | None]]:
    """(delta, finish_reason) pairs for one chat choice."""
    message = choice.get("message") or {}
    chunks: list[tuple[Json, str | None]] = [({"role": "assistant", "content": ""}, None)]
    chunks += [({"content": piece}, None) for piece in _pieces(message.get("content") or "")]
    if message.get("tool_calls"):
        calls = [{**call, "index": i} for i, call in enumerate(message["tool_calls"])]
        chunks.append(({"tool_calls": calls}, None))
    chunks.append(({}, choice.get("finish_reason")))
    return chunks


def stream_chunks(cached: Json, *, is_chat: bool, include_usage: bool) -> list[Json]:
    """The chunks of a live stream, in order (ids and model as ``cached`` has them)."""
    base: dict[str, Any] = {
        "id": cached["id"],
        "object": "chat.completion.chunk" if is_chat else "text_completion",
        "created": cached.get("created", int(time.time())),
        "model": cached["model"],
    }
    out: list[Json] = []
    for choice in cached.get("choices") or ():
        index = choice.get("index", 0)
        if is_chat:
            for delta, finish in _chat_chunks(choice):
                entry = {"index": index, "delta": delta, "finish_reason": finish}
                out.append({**base, "choices": [entry]})
        else:
            for piece in _pieces(choice.get("text") or ""):
                entry = {"index": index, "text": piece, "finish_reason": None}
                out.append({**base, "choices": [entry]})
            entry = {"index": index, "text": "", "finish_reason": choice.get("finish_reason")}
            out.append({**base, "choices": [entry]})
    if include_usage and cached.get("usage"):
        out.append({**base, "choices": [], "usage": cached["usage"]})
    return out
