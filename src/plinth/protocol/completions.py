"""``POST /v1/completions`` (legacy text completions) request model."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from plinth.protocol.common import SamplingParams


class CompletionRequest(SamplingParams):
    prompt: str | list[str] | list[int]
    echo: bool | None = None
    logprobs: int | None = Field(None, ge=0, le=5)
    suffix: str | None = None
    best_of: int | None = Field(None, ge=1, le=20)

    @model_validator(mode="after")
    def _one_prompt(self) -> CompletionRequest:
        from plinth.errors import UnsupportedParameter

        is_text_list = isinstance(self.prompt, list) and bool(self.prompt)
        if is_text_list and isinstance(self.prompt[0], str) and len(self.prompt) != 1:
            raise UnsupportedParameter("Only one prompt per request is supported", param="prompt")
        if self.best_of not in (None, 1):
            raise UnsupportedParameter("Only best_of=1 is supported", param="best_of")
        if self.echo:
            raise UnsupportedParameter("echo is not supported", param="echo")
        if self.suffix is not None:
            raise UnsupportedParameter(
                "suffix (fill-in-the-middle) is not supported", param="suffix"
            )
        return self

    def engine_body(self) -> dict[str, Any]:
        body = self.model_dump(exclude_unset=True, exclude_none=True)
        for client_only in ("user", "n", "best_of", "echo"):
            body.pop(client_only, None)
        if isinstance(self.prompt, list) and self.prompt and isinstance(self.prompt[0], str):
            body["prompt"] = self.prompt[0]
        return body
