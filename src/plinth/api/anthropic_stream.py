"""The gateway's chat chunks as Anthropic's Messages stream events.

Order (Anthropic's)::

    message_start, ping
    per content block:  content_block_start, content_block_delta …, content_block_stop
    message_delta (stop_reason, usage), message_stop

Text deltas open a ``text`` block; a tool call's first fragment (the one with
its id and name) opens a ``tool_use`` block whose argument fragments follow as
``input_json_delta``. The prompt's token count is only known at the end of an
OpenAI stream, so ``message_start`` carries Plinth's local estimate and
``message_delta`` the real count (its counts are cumulative totals, which the
SDK takes over those of ``message_start``).
A failure after the status line ends the stream with an ``error`` event in
Anthropic's shape.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from plinth.api.anthropic_inbound import anthropic_usage, message_id, stop_reason
from plinth.api.dialect import json_bytes
from plinth.engines.base import Json
from plinth.errors import PlinthError
from plinth.protocol.anthropic import error_json

log = logging.getLogger(__name__)


def frame(event: Json) -> bytes:
    return f"event: {event['type']}\ndata: ".encode() + json_bytes(event) + b"\n\n"


class Blocks:
    """Which content block is open, and where each tool call's block is."""

    def __init__(self) -> None:
        self.count = 0
        self.open: str | None = None  # "text" or "tool_use"
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool call index → block index

    def close(self) -> list[Json]:
        if self.open is None:
            return []
        self.open = None
        return [{"type": "content_block_stop", "index": self.count - 1}]

    def start(self, kind: str, block: Json) -> list[Json]:
        events = self.close()
        self.open = kind
        events.append({"type": "content_block_start", "index": self.count, "content_block": block})
        self.count += 1
        return events

    def text(self, text: str) -> list[Json]:
        events = [] if self.open == "text" else self.start("text", {"type": "text", "text": ""})
        delta = {"type": "text_delta", "text": text}
        return [*events, {"type": "content_block_delta", "index": self.count - 1, "delta": delta}]

    def tool_call(self, call: Json) -> list[Json]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[Json] = []
        if call.get("id") or position not in self.tool_blocks:
            block = {"type": "tool_use", "id": call.get("id"), "name": function.get("name")}
            events = self.start("tool_use", {**block, "input": {}})
            self.tool_blocks[position] = self.count - 1
        fragment = function.get("arguments")
        if fragment:
            delta = {"type": "input_json_delta", "partial_json": fragment}
            index = self.tool_blocks[position]
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        return events


def _chunk_events(chunk: Json, blocks: Blocks) -> list[Json]:
    events: list[Json] = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content"):
            events.extend(blocks.text(str(delta["content"])))
        for call in delta.get("tool_calls") or ():
            events.extend(blocks.tool_call(call))
    return events


async def message_events(
    request_id: str,
    model: str,
    first: Json,
    chunks: AsyncIterator[Json],
    input_estimate: int = 0,
) -> AsyncIterator[bytes]:
    blocks = Blocks()
    finish: Any = None
    usage: Json | None = None
    start: Json = {
        "id": message_id(request_id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": anthropic_usage({"prompt_tokens": input_estimate}),
    }
    try:
        yield frame({"type": "message_start", "message": start})
        yield frame({"type": "ping"})
        pending: Json | None = first
        while True:
            chunk = pending if pending is not None else await anext(chunks, None)
            pending = None
            if chunk is None:
                break
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or ():
                finish = choice.get("finish_reason") or finish
            for event in _chunk_events(chunk, blocks):
                yield frame(event)
        for event in blocks.close():
            yield frame(event)
        delta = {"stop_reason": stop_reason(finish), "stop_sequence": None}
        yield frame({"type": "message_delta", "delta": delta, "usage": anthropic_usage(usage)})
        yield frame({"type": "message_stop"})
    except Exception as exc:  # the status line is sent: an error event is all we can do
        if not isinstance(exc, PlinthError):
            log.exception("messages stream %s failed unexpectedly", request_id, exc_info=exc)
        _, body = error_json(exc, request_id)
        yield frame(body)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
