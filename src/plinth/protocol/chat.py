"""``POST /v1/chat/completions`` request model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plinth.protocol.common import MAX_TOKENS_LIMIT, SamplingParams, WireModel
from plinth.protocol.json_schema import check_schema


class TextPart(WireModel):
    type: Literal["text"]
    text: str


class OtherPart(BaseModel):
    """Image, audio and file parts: engines that cannot take them say so."""

    model_config = ConfigDict(extra="allow")
    type: Literal["image_url", "input_audio", "file", "refusal"]


class ChatMessage(BaseModel):
    # Extra message fields (e.g. ``tool_calls``) travel on to engines that know them.
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart | OtherPart] | None = None
    name: str | None = None


class JsonSchemaFormat(WireModel):
    name: str = Field("response", min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _bounded(cls, schema: dict[str, Any]) -> dict[str, Any]:
        check_schema(schema, "response_format.json_schema.schema")
        return schema


class ResponseFormat(WireModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_present(self) -> ResponseFormat:
        from plinth.errors import InvalidRequest

        if self.type == "json_schema" and self.json_schema is None:
            raise InvalidRequest(
                "response_format.json_schema is required when type is 'json_schema'",
                param="response_format.json_schema",
            )
        return self


class ChatCompletionRequest(SamplingParams):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_LIMIT)
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None

    @model_validator(mode="after")
    def _contents_present(self) -> ChatCompletionRequest:
        from plinth.errors import InvalidRequest

        for index, message in enumerate(self.messages):
            # Only an assistant turn that calls tools may go without content.
            if message.content is None and message.role != "assistant":
                raise InvalidRequest(
                    f"A '{message.role}' message needs content",
                    param=f"messages[{index}].content",
                )
        for index, tool in enumerate(self.tools or []):
            # Engines compile a tool's parameters to a grammar, as they do response schemas.
            function = tool.get("function")
            parameters = function.get("parameters") if isinstance(function, dict) else None
            if isinstance(parameters, dict):
                check_schema(parameters, f"tools[{index}].function.parameters")
        return self

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def engine_body(self) -> dict[str, Any]:
        """The request as engines receive it: only what the client set, one token-limit name."""
        body = self.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)
        for client_only in ("user", "metadata", "store", "max_completion_tokens", "n"):
            body.pop(client_only, None)
        if self.token_limit is not None:
            body["max_tokens"] = self.token_limit
        return body
