"""``POST /v1/embeddings`` request model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from plinth.protocol.common import WireModel

MAX_INPUTS = 2048


class EmbeddingRequest(WireModel):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, le=65536)
    user: str | None = Field(None, max_length=256)

    @model_validator(mode="after")
    def _check_input(self) -> EmbeddingRequest:
        from plinth.errors import InvalidRequest

        items = [self.input] if isinstance(self.input, str) else self.input
        if not items:
            raise InvalidRequest("input must not be empty", param="input")
        if len(items) > MAX_INPUTS:
            raise InvalidRequest(f"At most {MAX_INPUTS} inputs per request", param="input")
        if any(isinstance(i, str | list) and not i for i in items):
            raise InvalidRequest("input strings and token lists must not be empty", param="input")
        return self

    def input_list(self) -> list[str] | list[list[int]]:
        if isinstance(self.input, str):
            return [self.input]
        if self.input and isinstance(self.input[0], int):
            return [self.input]
        return self.input  # type: ignore[return-value]
