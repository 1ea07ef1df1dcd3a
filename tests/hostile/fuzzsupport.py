"""What the route fuzzer needs: engines that check what reaches them, the app's routes,
the field and query names the API knows, and hypothesis strategies for hostile values.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.routing import Mount, Route

import plinth.api
import plinth.protocol
from plinth.engines.base import EmbeddingResult, Engine, Json

CHAT_MODEL, EMBED_MODEL = "fake-chat", "fake-embed"
INT64 = 2**63


def wire_safe(body: Any) -> None:
    """Raise as a native engine or an upstream would on what JSON engines cannot hold.

    llama.cpp (nlohmann::json) has no integers beyond 64 bits and no NaN;
    raising TypeError here makes the fuzzer see what a real engine would do.
    """
    stack = [body]
    while stack:
        value = stack.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not -INT64 <= value < 2 * INT64:
            raise TypeError(f"integer {value} does not fit the engine's JSON")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    json.dumps(body, allow_nan=False)


def _answer(body: Json) -> Json:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": CHAT_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


class FakeChat(Engine):
    def __init__(self) -> None:
        super().__init__(CHAT_MODEL, "chat")

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def chat(self, body: Json) -> Json:
        wire_safe(body)
        return _answer(body)

    async def complete(self, body: Json) -> Json:
        wire_safe(body)
        answer = _answer(body)
        answer["object"] = "text_completion"
        answer["choices"] = [{"index": 0, "text": "ok", "finish_reason": "stop"}]
        return answer

    async def _stream(self, body: Json) -> AsyncIterator[Json]:
        wire_safe(body)
        chunk = {**_answer(body), "object": "chat.completion.chunk"}
        chunk["choices"] = [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]
        yield chunk

    def chat_stream(self, body: Json) -> AsyncIterator[Json]:
        return self._stream(body)

    def complete_stream(self, body: Json) -> AsyncIterator[Json]:
        return self._stream(body)


class FakeEmbed(Engine):
    def __init__(self) -> None:
        super().__init__(EMBED_MODEL, "embedding")

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        wire_safe(inputs)
        return EmbeddingResult([[1.0, 0.0, 0.5] for _ in inputs], len(inputs))


# --- what the API knows -------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the route's template, e.g. /v1/files/{file_id}
    params: tuple[str, ...]
    fields: tuple[str, ...]  # of the wire models its handler reads the body into
    numeric: tuple[str, ...]  # those of them that hold numbers

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(routes: list[Any], prefix: str = "") -> Iterator[Endpoint]:
    """Every (method, path) of a Starlette route list, mounts included."""
    for route in routes:
        if isinstance(route, Mount):
            yield from endpoints(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            params, (fields, numeric) = tuple(route.param_convertors), body_fields(route.endpoint)
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield Endpoint(method, prefix + route.path, params, fields, numeric)


def _handlers(function: Any) -> Iterator[Any]:
    """The function and those it wraps (``functools.wraps`` or a closure's functions)."""
    seen, todo = set(), [function]
    while todo:
        current = todo.pop()
        if id(current) in seen or not callable(current):
            continue
        seen.add(id(current))
        yield current
        todo.append(getattr(current, "__wrapped__", None))
        for cell in getattr(current, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                todo.append(cell.cell_contents)


def body_fields(handler: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Fields of every wire model a handler's source names (its body's schema), and
    which of them are numbers."""
    names: set[str] = set()
    numeric: set[str] = set()
    for function in _handlers(handler):
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        for name, value in getattr(function, "__globals__", {}).items():
            is_model = isinstance(value, type) and issubclass(value, BaseModel)
            if not (is_model and re.search(rf"\b{name}\b", source)):
                continue
            for field, info in value.model_fields.items():
                names.add(info.alias or field)
                if re.search(r"\b(int|float|Decimal)\b", str(info.annotation)):
                    numeric.add(info.alias or field)
    return tuple(sorted(names)), tuple(sorted(numeric))


def _modules(package: Any) -> Iterator[Any]:
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        yield importlib.import_module(info.name)


def field_names() -> list[str]:
    """Every field name of every wire model in plinth.api and plinth.protocol."""
    names: set[str] = set()
    for package in (plinth.api, plinth.protocol):
        for module in _modules(package):
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, BaseModel):
                    for name, info in value.model_fields.items():
                        names.add(info.alias or name)
    return sorted(names)


def query_names() -> list[str]:
    """Query parameters the routers read (``query_params.get("name")`` / ``["name"]``)."""
    pattern = re.compile(r"""query_params(?:\.get\(|\[)\s*["'](\w+)["']""")
    names = {"limit", "order", "after", "before"}
    for path in Path(plinth.api.__path__[0]).glob("*.py"):
        names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return sorted(names)


#: Bodies that get past the first checks, so the fuzzer reaches field validation.
TEMPLATES: dict[str, Json] = {
    "/v1/chat/completions": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    "/v1/completions": {"model": CHAT_MODEL, "prompt": "hi"},
    "/v1/embeddings": {"model": EMBED_MODEL, "input": "hi"},
    "/v1/responses": {"model": CHAT_MODEL, "input": "hi"},
    "/v1/messages": {
        "model": CHAT_MODEL,
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
    },
    "/api/chat": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
    "/api/generate": {"model": CHAT_MODEL, "prompt": "hi"},
    "/api/embed": {"model": EMBED_MODEL, "input": "hi"},
    "/v1/vector_stores": {"name": "fuzz"},
    "/admin/keys": {"name": "fuzz"},
    "/admin/tenants": {"name": "fuzz"},
    "/admin/prices": {"model": CHAT_MODEL, "input_per_mtok": "1"},
    "/admin/plans": {"name": "fuzz"},
    "/admin/limits/{subject}": {"spend": "1", "requests_per_minute": 10},
    "/admin/tenants/{tenant}/wallet/{kind:str}": {"amount": "1"},
    "/admin/tenants/{tenant}/plan": {"plan": None},
    "/v1/vector_stores/{vector_store_id}/search": {"query": "q"},
    "/v1/vector_stores/{vector_store_id}/files": {"file_id": "file-x"},
    "/v1/vector_stores/{vector_store_id}/file_batches": {"file_ids": ["file-x"]},
    "/retrieval": {"knowledge_id": "vs_x", "query": "q", "retrieval_setting": {"top_k": 2}},
}


# --- hostile values -----------------------------------------------------------------------

NUMBERS: list[Any] = [
    0,
    -1,
    1,
    2**31,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    -(2**64),
    10**100,
    1e308,
    -1e308,
    5e-324,
    0.5,
    -0.0,
    1.7976931348623157e308,
]
EXTREME_NUMBERS = st.sampled_from(NUMBERS)
#: What every field gets once in the sweep: wrong types, huge and hostile values.
WRONG_VALUES: list[Any] = [
    None,
    True,
    "",
    "x" * 300_000,
    "\u0000",
    "\ud800",
    [],
    {},
    [[[[["deep"]]]]],
    {"a": {"b": {"c": 1}}},
    ["x"] * 3000,
]
WEIRD_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\ud800",
            "\udfff",
            "../../etc/passwd",
            "%00",
            "'; DROP TABLE keys; --",
            "<script>",
            "\u202e",
            "\ufeff",
            "null",
        ]
    ),
    st.integers(min_value=1_000, max_value=300_000).map(lambda n: "x" * n),
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), EXTREME_NUMBERS, WEIRD_TEXT)
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(WEIRD_TEXT, inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def nested(depth: int, opener: bytes) -> bytes:
    closer = b"]" if opener == b"[" else b"}"
    inner = b'{"a":' if opener == b"{" else b"["
    return inner * depth + b"1" + closer * depth


RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"{",
            b"[]",
            b"null",
            b'"x"',
            b"NaN",
            b'{"model": NaN}',
            b'{"model": Infinity}',
            b'{"model": 1e999}',
            b'{"max_tokens": ' + b"9" * 5000 + b"}",
            b'{"model": "\xff\xfe\xfd"}',
            b'{"model": "a\x00b"}',
            b'{"model": "\\u0000"}',
            b'{"name": "\\ud800"}',
            b"\xef\xbb\xbf{}",
            b"\x00" * 100,
        ]
    ),
    st.integers(min_value=65, max_value=20_000).map(lambda d: nested(d, b"[")),
    st.integers(min_value=65, max_value=20_000).map(lambda d: nested(d, b"{")),
)
