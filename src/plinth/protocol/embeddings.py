"""``POST /v1/embeddings`` request model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from plinth.protocol.common import WireModel

MAX_INPUTS = 2048

#: Why token ids are refused by default: nothing in them says which tokenizer
#: made them, and the commonest sender, LangChain's ``OpenAIEmbeddings()``, sends
#: tiktoken ids that a local model would read as its own and embed other text.
TOKEN_IDS_REFUSAL = (
    "input is token ids, and model '{model}' would read them in its own vocabulary: "
    "ids from another tokenizer (LangChain's OpenAIEmbeddings sends tiktoken ids by "
    "default) would be embedded as different text. Send text instead (LangChain: "
    "OpenAIEmbeddings(check_embedding_ctx_length=False); LlamaIndex's OpenAIEmbedding "
    "and OpenAILikeEmbedding send text already), or, if the ids come from this model's "
    'tokenizer, add "token_vocabulary": "model" to the request'
)


class EmbeddingRequest(WireModel):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, le=65536)
    user: str | None = Field(None, max_length=256)
    #: Plinth's extension: token-id input is in the served model's own vocabulary.
    #: Without it a local model refuses token ids (see ``TOKEN_IDS_REFUSAL``).
    token_vocabulary: Literal["model"] | None = None

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

    def has_token_ids(self) -> bool:
        return not isinstance(self.input, str) and not isinstance(self.input[0], str)

    def input_list(self) -> list[str] | list[list[int]]:
        if isinstance(self.input, str):
            return [self.input]
        if self.input and isinstance(self.input[0], int):
            return [self.input]
        return self.input  # type: ignore[return-value]
