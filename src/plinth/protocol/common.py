"""Wire pieces shared by several endpoint families."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Largest token limit a request may ask for: it fits the 32-bit integers engines
#: (llama.cpp, most upstreams) keep it in, so it can never wrap to a small number.
MAX_TOKENS_LIMIT = 2**31 - 1
#: ``seed`` is a signed 64-bit integer, as in OpenAI's API reference.
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1
#: OpenAI's bounds for one ``logit_bias`` value, and at most this many entries.
LOGIT_BIAS_MAX, LOGIT_BIAS_ENTRIES = 100.0, 1024


class WireModel(BaseModel):
    """Requests reject unknown fields so a typo is a 400, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class StreamOptions(WireModel):
    include_usage: bool = False
    # Newer SDKs may send this; it is a no-op for Plinth.
    include_obfuscation: bool | None = None


class SamplingParams(WireModel):
    """Sampling fields common to chat and legacy completions."""

    model: str = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_LIMIT)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=SEED_MIN, le=SEED_MAX)
    n: int | None = Field(None, ge=1, le=128)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[str, Annotated[float, Field(ge=-LOGIT_BIAS_MAX, le=LOGIT_BIAS_MAX)]] | None = (
        Field(None, max_length=LOGIT_BIAS_ENTRIES)
    )
    user: str | None = Field(None, max_length=256)

    @model_validator(mode="after")
    def _check_common(self) -> SamplingParams:
        from plinth.errors import UnsupportedParameter

        if self.n not in (None, 1):
            raise UnsupportedParameter("Only n=1 is supported", param="n")
        if self.stream_options is not None and not self.stream:
            raise UnsupportedParameter(
                "stream_options is only allowed when stream is true", param="stream_options"
            )
        if isinstance(self.stop, list) and len(self.stop) > 4:
            raise UnsupportedParameter("At most 4 stop sequences are allowed", param="stop")
        return self

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


def usage_from(raw: dict[str, Any] | None) -> Usage | None:
    if not raw:
        return None
    prompt = int(raw.get("prompt_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
