"""``POST /v1/responses`` request model: plain text turns and the ``file_search`` tool.

What Plinth cannot honour is a 400 naming the parameter (other tool types,
image or file inputs, ``previous_response_id``, ``reasoning``…), never
silently ignored. Input items become chat messages; the gateway then treats
the request exactly like a chat completion.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from plinth.errors import InvalidRequest, UnsupportedParameter
from plinth.knowledge.index import SearchOptions
from plinth.protocol.common import MAX_TOKENS_LIMIT, WireModel
from plinth.protocol.json_schema import check_schema
from plinth.vectorstores.wire import RankingOptions, search_options

M = TypeVar("M", bound=BaseModel)
FILE_SEARCH_RESULTS = "file_search_call.results"
DEFAULT_MAX_NUM_RESULTS = 10


class FileSearchTool(WireModel):
    type: Literal["file_search"]
    vector_store_ids: list[str] = Field(min_length=1)
    max_num_results: int | None = Field(None, ge=1, le=50)
    # Checked by the knowledge base's own parser, which names what is wrong.
    filters: dict[str, Any] | None = None
    ranking_options: RankingOptions | None = None

    def options(self) -> SearchOptions:
        """The tool's knobs as the one :class:`SearchOptions` (weights under Plinth's names)."""
        ranking = self.ranking_options
        return search_options(
            self.max_num_results or DEFAULT_MAX_NUM_RESULTS, ranking, None, self.filters
        )

    def echo(self) -> dict[str, Any]:
        """The tool as the response object repeats it, defaults filled in."""
        ranking = self.ranking_options or RankingOptions()
        return {
            "type": "file_search",
            "vector_store_ids": self.vector_store_ids,
            "filters": self.filters,
            "max_num_results": self.max_num_results or DEFAULT_MAX_NUM_RESULTS,
            "ranking_options": {
                "ranker": ranking.ranker or "auto",
                "score_threshold": ranking.score_threshold or 0.0,
                **(
                    {
                        "hybrid_search": {  # OpenAI's names for the two weights
                            "embedding_weight": ranking.hybrid_search.dense_weight,
                            "text_weight": ranking.hybrid_search.lexical_weight,
                        }
                    }
                    if ranking.hybrid_search
                    else {}
                ),
            },
        }


class InputTextPart(BaseModel):
    # Input and output text parts (a replayed assistant turn carries annotations).
    model_config = ConfigDict(extra="allow")
    type: Literal["input_text", "output_text"]
    text: str


class InputMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # id, status, phase of a replayed output item
    type: Literal["message"] | None = None
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[dict[str, Any]]

    def text(self, where: str) -> str:
        if isinstance(self.content, str):
            return self.content
        texts = []
        for index, part in enumerate(self.content):
            kind = part.get("type")
            if kind not in ("input_text", "output_text"):
                raise UnsupportedParameter(
                    f"Content parts of type {kind!r} are not supported; "
                    "send text ('input_text') only",
                    param=f"{where}.content[{index}].type",
                )
            texts.append(InputTextPart.model_validate(part).text)
        return "\n".join(texts)


class TextFormat(WireModel):
    """``text.format``: plain text, JSON, or JSON following a schema (as chat's
    ``response_format``, with the schema's fields one level up)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(None, min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None

    @model_validator(mode="after")
    def _schema_fields(self) -> TextFormat:
        given = [f for f in ("name", "description", "schema_", "strict") if getattr(self, f)]
        if self.type != "json_schema" and given:
            field = given[0].rstrip("_")
            raise InvalidRequest(
                f"text.format.{field} is only allowed when type is 'json_schema'",
                param=f"text.format.{field}",
            )
        if self.type == "json_schema":
            if self.name is None:
                raise InvalidRequest(
                    "Missing required parameter: 'text.format.name'", param="text.format.name"
                )
            if self.schema_ is None:
                raise InvalidRequest(
                    "Missing required parameter: 'text.format.schema'", param="text.format.schema"
                )
            check_schema(self.schema_, "text.format.schema")
        return self

    @property
    def structured(self) -> bool:
        return self.type != "text"

    def response_format(self) -> dict[str, Any] | None:
        """The chat request's ``response_format`` for this format (None: plain text)."""
        if self.type == "text":
            return None
        if self.type == "json_object":
            return {"type": "json_object"}
        spec: dict[str, Any] = {"name": self.name, "schema": self.schema_}
        if self.description is not None:
            spec["description"] = self.description
        if self.strict is not None:
            spec["strict"] = self.strict
        return {"type": "json_schema", "json_schema": spec}

    def echo(self) -> dict[str, Any]:
        """As the Response object reports it."""
        return self.model_dump(by_alias=True, exclude_none=True)


class TextConfig(WireModel):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ResponsesStreamOptions(WireModel):
    include_obfuscation: bool | None = None  # a no-op here, as for chat


class ResponsesRequest(WireModel):
    model: str = Field(min_length=1)
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    include: list[str] | None = None
    max_output_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS_LIMIT)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stream: bool = False
    stream_options: ResponsesStreamOptions | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    text: TextConfig | None = None
    truncation: Literal["disabled"] | None = None
    user: str | None = Field(None, max_length=256)

    _file_search: FileSearchTool | None = PrivateAttr(None)

    @field_validator("previous_response_id")
    @classmethod
    def _no_stored_responses(cls, value: str | None) -> str | None:
        if value is not None:
            raise UnsupportedParameter(
                "Plinth does not store responses, so previous_response_id cannot be used; "
                "send the earlier turns in 'input' instead",
                param="previous_response_id",
            )
        return value

    @field_validator("include")
    @classmethod
    def _known_includes(cls, value: list[str] | None) -> list[str] | None:
        for index, item in enumerate(value or ()):
            if item != FILE_SEARCH_RESULTS:
                raise UnsupportedParameter(
                    f"include value {item!r} is not supported; only '{FILE_SEARCH_RESULTS}' is",
                    param=f"include[{index}]",
                )
        return value

    @model_validator(mode="after")
    def _tools_and_choice(self) -> ResponsesRequest:
        self._file_search = self._parse_tools()
        choice = self.tool_choice
        if choice is None or choice in ("auto", "none"):
            return self
        wants_search = choice == "required" or (
            isinstance(choice, dict) and choice.get("type") == "file_search"
        )
        if not wants_search:
            raise UnsupportedParameter(
                f"tool_choice {choice!r} is not supported; use 'auto', 'required', 'none' "
                "or {'type': 'file_search'}",
                param="tool_choice",
            )
        if self._file_search is None:
            raise InvalidRequest(
                "tool_choice asks for a tool call, but no file_search tool is given",
                param="tool_choice",
            )
        return self

    def _parse_tools(self) -> FileSearchTool | None:
        found: FileSearchTool | None = None
        for index, raw in enumerate(self.tools or ()):
            kind = raw.get("type")
            if kind != "file_search":
                raise UnsupportedParameter(
                    f"Tool type {kind!r} is not supported; Plinth's Responses API offers "
                    "'file_search' only",
                    param=f"tools[{index}].type",
                )
            if found is not None:
                raise InvalidRequest(
                    "At most one file_search tool may be given; list several "
                    "vector_store_ids in it instead",
                    param=f"tools[{index}]",
                )
            found = _validated(FileSearchTool, raw, f"tools[{index}]")
        return found

    @property
    def file_search_tool(self) -> FileSearchTool | None:
        """The file_search tool as declared (echoed in the response even when not run)."""
        return self._file_search

    @property
    def file_search(self) -> FileSearchTool | None:
        """The tool to run, or None (absent, or switched off by tool_choice 'none')."""
        return None if self.tool_choice == "none" else self._file_search

    @property
    def text_format(self) -> TextFormat:
        given = self.text.format if self.text is not None else None
        return given if given is not None else TextFormat(type="text")

    @property
    def include_results(self) -> bool:
        return FILE_SEARCH_RESULTS in (self.include or ())

    def messages(self) -> list[dict[str, str]]:
        """Instructions and input items as chat messages (text only)."""
        messages = []
        if self.instructions:
            messages.append({"role": "system", "content": self.instructions})
        if isinstance(self.input, str):
            messages.append({"role": "user", "content": self.input})
            return messages
        if not self.input:
            raise InvalidRequest("input must not be empty", param="input")
        for index, raw in enumerate(self.input):
            where = f"input[{index}]"
            if raw.get("type", "message") != "message":
                raise UnsupportedParameter(
                    f"Input items of type {raw.get('type')!r} are not supported; "
                    "send messages only",
                    param=f"{where}.type",
                )
            item = _validated(InputMessage, raw, where)
            messages.append({"role": item.role, "content": item.text(where)})
        return messages


def _validated(model: type[M], raw: dict[str, Any], where: str) -> M:
    """Validate a nested item, naming its full parameter path in the error."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        param = where + path
        if first["type"] == "extra_forbidden":
            raise UnsupportedParameter(f"Unrecognized argument: {param}", param=param) from None
        if first["type"] == "missing":
            raise InvalidRequest(f"Missing required parameter: '{param}'", param=param) from None
        raise InvalidRequest(f"Invalid value at '{param}': {first['msg']}", param=param) from None
