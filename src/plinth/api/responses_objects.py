"""The Response object and its output items, shared by whole and streamed answers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plinth.engines.base import Json
from plinth.protocol.responses import ResponsesRequest
from plinth.rag.citations import Annotation
from plinth.vectorstores.retrieve import Source


@dataclass(frozen=True)
class FileSearchRun:
    """What the file_search tool did for this request."""

    item_id: str
    query: str
    sources: list[Source]

    def item(self, *, include_results: bool, status: str = "completed") -> Json:
        return {
            "id": self.item_id,
            "type": "file_search_call",
            "status": status,
            "queries": [self.query],
            "results": (
                [s.as_result() for s in self.sources]
                if include_results and status == "completed"
                else None
            ),
        }


@dataclass
class Turn:
    """One Responses request, resolved up to the model call."""

    body: ResponsesRequest
    request_id: str
    search: FileSearchRun | None
    created_at: int = field(default_factory=lambda: int(time.time()))
    message_id: str = field(default_factory=lambda: "msg_" + secrets.token_hex(16))

    @property
    def response_id(self) -> str:
        # The ledger's request id with another prefix: a support ticket quoting
        # either finds the other.
        return "resp_" + self.request_id.removeprefix("req_")

    @property
    def sources(self) -> list[Source]:
        return self.search.sources if self.search else []

    @property
    def citable(self) -> list[Source]:
        """Sources whose markers become citations: none in JSON output, where
        removing a ``[1]`` would change the value the client parses."""
        return [] if self.body.text_format.structured else self.sources

    def response(self, status: str, output: list[Json], **fields: Any) -> Json:
        """The Response object; ``fields`` sets usage, incomplete_details, error."""
        body = self.body
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.instructions,
            "max_output_tokens": body.max_output_tokens,
            "model": body.model,
            "output": output,
            "parallel_tool_calls": (
                body.parallel_tool_calls if body.parallel_tool_calls is not None else True
            ),
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": False,  # nothing is stored, whatever was asked
            "temperature": body.temperature if body.temperature is not None else 1.0,
            "text": {"format": body.text_format.echo()},
            "tool_choice": body.tool_choice or "auto",
            "tools": [body.file_search_tool.echo()] if body.file_search_tool else [],
            "top_p": body.top_p if body.top_p is not None else 1.0,
            "truncation": "disabled",
            "usage": None,
            "user": body.user,
            "metadata": body.metadata or {},
            **fields,
        }

    def message(self, text: str, annotations: list[Annotation], status: str) -> Json:
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": [output_text(text, annotations)],
        }

    def search_item(self, status: str = "completed") -> list[Json]:
        if self.search is None:
            return []
        return [self.search.item(include_results=self.body.include_results, status=status)]


def output_text(text: str, annotations: list[Annotation]) -> Json:
    return {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}


def usage(chat_usage: Mapping[str, Any] | None) -> Json:
    """Chat usage in the Responses vocabulary."""
    chat_usage = chat_usage or {}
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    completion = int(chat_usage.get("completion_tokens") or 0)
    cached = int((chat_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def ending(finish_reason: str | None) -> tuple[str, Json | None]:
    """Response status and incomplete_details for the model's finish reason."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None
