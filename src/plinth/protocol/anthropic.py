"""Anthropic Messages API requests (``POST /v1/messages``), as Plinth accepts them inbound.

Only the envelope is validated here: fields, types and ranges, with unknown
fields refused as Anthropic refuses them. Content blocks stay plain dicts;
:mod:`plinth.api.anthropic_inbound` reads them while translating, and names
the offending block in its errors. Errors go out in Anthropic's shape,
built by :func:`error_json` from the one exception tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plinth.errors import error_body
from plinth.protocol.common import MAX_TOKENS_LIMIT, WireModel

Json = dict[str, Any]

#: Anthropic's error ``type`` for an HTTP status; 5xx not listed are ``api_error``.
ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class InputMessage(BaseModel):
    # Blocks are read (and their errors named) by the translator, not here.
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class Metadata(WireModel):
    user_id: str | None = Field(None, max_length=256)


class Thinking(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["enabled", "disabled"]


class MessagesBase(WireModel):
    """Fields shared by ``/v1/messages`` and ``/v1/messages/count_tokens``."""

    model: str = Field(min_length=1)
    messages: list[InputMessage] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: Thinking | None = None


class MessagesRequest(MessagesBase):
    max_tokens: int = Field(ge=1, le=MAX_TOKENS_LIMIT)
    stream: bool = False
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=0, le=MAX_TOKENS_LIMIT)
    metadata: Metadata | None = None
    service_tier: Literal["auto", "standard_only"] | None = None

    @model_validator(mode="after")
    def _stop_sequences(self) -> MessagesRequest:
        from plinth.errors import UnsupportedParameter

        # Chat engines take at most four; more would fail later with a name the client never sent.
        if self.stop_sequences is not None and len(self.stop_sequences) > 4:
            raise UnsupportedParameter(
                "At most 4 stop_sequences are supported", param="stop_sequences"
            )
        return self


class CountTokensRequest(MessagesBase):
    pass


def error_type(status: int) -> str:
    """Anthropic's error ``type`` for an HTTP status."""
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_json(exc: BaseException, request_id: str | None = None) -> tuple[int, Json]:
    """Any exception as ``(status, {"type": "error", "error": {type, message}})``.

    The status and message are those of :func:`plinth.errors.error_body`, so
    both dialects say the same thing; only the envelope differs.
    """
    status, body = error_body(exc, request_id)
    error: Json = {"type": error_type(status), "message": body["error"]["message"]}
    return status, {"type": "error", "error": error, "request_id": request_id}
