"""A Responses stream: the gateway's chat chunks as OpenAI's typed, numbered SSE events.

Order (OpenAI's)::

    response.created, response.in_progress
    [file_search_call]  output_item.added, file_search_call.in_progress,
                        .searching, .completed, output_item.done
    [message]           output_item.added, content_part.added,
                        output_text.delta … (annotation.added where a citation completes),
                        output_text.done, content_part.done, output_item.done
    response.completed  (response.incomplete when the token limit cut the answer)

The search ran before the status line was sent (so an unknown store is a real
404), so its three progress events come out together. A citation's
``annotation.added`` follows the delta that ends where the citation points,
as OpenAI interleaves them. A failure after the stream started ends it with
an ``error`` event and ``response.failed``, never a silently cut connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from plinth.api.responses_objects import Turn, ending, output_text, usage
from plinth.engines.base import Json
from plinth.errors import PlinthError, error_body
from plinth.rag.citations import Annotation, CitationParser

log = logging.getLogger(__name__)


class EventWriter:
    """SSE frames with OpenAI's ``event:`` line and a running ``sequence_number``."""

    def __init__(self) -> None:
        self.sequence = 0

    def __call__(self, kind: str, **fields: Any) -> bytes:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        return f"event: {kind}\ndata: {data}\n\n".encode()


class MessageText:
    """The answer's text as it streams: cleaned of citation markers, annotated."""

    def __init__(self, turn: Turn):
        # Without sources no marker can be a citation: text passes through untouched.
        self.parser = CitationParser(turn.citable) if turn.citable else None
        self.parts: list[str] = []
        self.annotations: list[Annotation] = []

    def feed(self, delta: str) -> list[tuple[str, list[Annotation]]]:
        """Each text to send, then the annotations that point at its end."""
        steps = self.parser.steps(delta) if self.parser else [(delta, [])]
        return [self._keep(text, found) for text, found in steps]

    def finish(self) -> tuple[str, list[Annotation]]:
        return self._keep(self.parser.finish() if self.parser else "", [])

    def _keep(self, text: str, found: list[Annotation]) -> tuple[str, list[Annotation]]:
        self.parts.append(text)
        self.annotations.extend(found)
        return text, found

    @property
    def text(self) -> str:
        return "".join(self.parts)


async def _chunks_from(first: Json, rest: AsyncIterator[Json]) -> AsyncIterator[Json]:
    yield first
    async for chunk in rest:
        yield chunk


async def response_events(
    turn: Turn, first: Json, chunks: AsyncIterator[Json]
) -> AsyncIterator[bytes]:
    event = EventWriter()
    output: list[Json] = []
    message = MessageText(turn)
    message_index = 1 if turn.search else 0
    where = {"item_id": turn.message_id, "output_index": message_index, "content_index": 0}

    def text_events(text: str, found: list[Annotation]) -> list[bytes]:
        frames = (
            [event("response.output_text.delta", **where, delta=text, logprobs=[])] if text else []
        )
        first_new = len(message.annotations) - len(found)
        for offset, annotation in enumerate(found):
            frames.append(
                event(
                    "response.output_text.annotation.added",
                    **where,
                    annotation_index=first_new + offset,
                    annotation=annotation,
                )
            )
        return frames

    try:
        yield event("response.created", response=turn.response("in_progress", []))
        yield event("response.in_progress", response=turn.response("in_progress", []))
        if turn.search is not None:
            searched = {"item_id": turn.search.item_id, "output_index": 0}
            yield event(
                "response.output_item.added",
                output_index=0,
                item=turn.search_item("in_progress")[0],
            )
            for phase in ("in_progress", "searching", "completed"):
                yield event(f"response.file_search_call.{phase}", **searched)
            output.extend(turn.search_item())
            yield event("response.output_item.done", output_index=0, item=output[0])
        added = {**turn.message("", [], "in_progress"), "content": []}
        yield event("response.output_item.added", output_index=message_index, item=added)
        yield event("response.content_part.added", **where, part=output_text("", []))

        finish_reason: str | None = None
        chat_usage: Json | None = None
        async for chunk in _chunks_from(first, chunks):
            chat_usage = chunk.get("usage") or chat_usage
            for choice in chunk.get("choices") or ():
                finish_reason = choice.get("finish_reason") or finish_reason
                delta = (choice.get("delta") or {}).get("content")
                for step in message.feed(delta) if delta else ():
                    for frame in text_events(*step):
                        yield frame
        for frame in text_events(*message.finish()):
            yield frame

        status, incomplete = ending(finish_reason)
        part = output_text(message.text, message.annotations)
        yield event("response.output_text.done", **where, text=message.text, logprobs=[])
        yield event("response.content_part.done", **where, part=part)
        output.append(turn.message(message.text, message.annotations, status))
        yield event("response.output_item.done", output_index=message_index, item=output[-1])
        final = turn.response(
            status, output, usage=usage(chat_usage), incomplete_details=incomplete
        )
        yield event(f"response.{status}", response=final)
    except Exception as exc:  # the status line is sent: events are all we can do
        if not isinstance(exc, PlinthError):
            log.exception("responses stream %s failed unexpectedly", turn.request_id, exc_info=exc)
        http_status, body = error_body(exc, turn.request_id)
        error = body["error"]
        yield event("error", code=error["code"], message=error["message"], param=error["param"])
        code = "rate_limit_exceeded" if http_status == 429 else "server_error"
        partial = turn.message(message.text, message.annotations, "incomplete")
        failed = turn.response(
            "failed", [*output, partial], error={"code": code, "message": error["message"]}
        )
        yield event("response.failed", response=failed)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
