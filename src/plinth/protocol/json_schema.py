"""Bounds on the JSON Schemas a client sends for structured output and tool calls.

A schema in ``response_format.json_schema.schema`` (or a tool's ``parameters``)
is compiled to a grammar by the engine (llama.cpp does so in its worker
thread, off the event loop). Compilation of a schema that refers to itself is
unbounded there, and a very large one is slow, so a schema is refused with a
400 unless it is:

- at most :data:`MAX_SCHEMA_BYTES` once serialised, with at most
  :data:`MAX_SCHEMA_NODES` objects and arrays nested at most
  :data:`MAX_SCHEMA_DEPTH` deep, at most :data:`MAX_SCHEMA_REFS` ``$ref``, at
  most :data:`MAX_OBJECT_PROPERTIES` properties in one object and
  :data:`MAX_SCHEMA_PROPERTIES` in all, at most :data:`MAX_ALTERNATIVES` in one
  ``enum``/``anyOf``/``oneOf`` and :data:`MAX_SCHEMA_ALTERNATIVES` in all;
- free of ``$ref`` cycles (a definition that reaches itself through
  references), and every ``$ref`` is local (``#…``) and resolves.

All walks are iterative; each is linear in the size of the schema.
"""

from __future__ import annotations

import json
from typing import Any

from plinth.errors import InvalidRequest

MAX_SCHEMA_BYTES = 256 * 1024
MAX_SCHEMA_NODES = 5_000
MAX_SCHEMA_DEPTH = 32
MAX_SCHEMA_REFS = 256
#: llama.cpp's grammar for an object's optional properties grows faster than
#: linearly with their count (benchmarks/json_schema_compile.py: 256 properties
#: ~0.9 s, 2,000 ~49 s and then a failure); OpenAI's own limits are of this order.
MAX_OBJECT_PROPERTIES = 128
MAX_SCHEMA_PROPERTIES = 1024
#: Alternatives (``enum``, ``anyOf``, ``oneOf``) cost llama.cpp at every sampled
#: token: 1,000 enum values took 8 s for 3 tokens, 5,000 took 69 s.
MAX_ALTERNATIVES = 128
MAX_SCHEMA_ALTERNATIVES = 512
_ALTERNATIVES = ("enum", "anyOf", "oneOf")


def check_schema(schema: dict[str, Any], param: str) -> None:
    """Raise :class:`InvalidRequest` naming ``param`` if ``schema`` is outside the bounds."""
    try:
        size = len(json.dumps(schema, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        raise InvalidRequest("The schema is not plain JSON", param=param) from None
    if size > MAX_SCHEMA_BYTES:
        raise InvalidRequest(f"The schema is larger than {MAX_SCHEMA_BYTES} bytes", param=param)
    refs_below = _walk(schema, param)
    _refuse_cycles(schema, refs_below, param)


def _walk(schema: dict[str, Any], param: str) -> dict[str, str]:
    """Check size and depth; map each JSON pointer that holds a ``$ref`` to the refs in it."""
    nodes = properties = alternatives = 0
    refs_at: dict[str, str] = {}
    stack: list[tuple[Any, str, int]] = [(schema, "#", 1)]
    while stack:
        value, pointer, depth = stack.pop()
        nodes += 1
        if nodes > MAX_SCHEMA_NODES:
            raise InvalidRequest(
                f"The schema has more than {MAX_SCHEMA_NODES} objects and arrays", param=param
            )
        if depth > MAX_SCHEMA_DEPTH:
            raise InvalidRequest(
                f"The schema is nested more than {MAX_SCHEMA_DEPTH} levels deep", param=param
            )
        items: list[tuple[Any, Any]] = (
            list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        )
        for key, child in items:
            if key == "properties" and isinstance(child, dict):
                properties += len(child)
                _check_count("properties in one object", len(child), MAX_OBJECT_PROPERTIES, param)
                _check_count("properties in all", properties, MAX_SCHEMA_PROPERTIES, param)
            if key in _ALTERNATIVES and isinstance(child, list):
                alternatives += len(child)
                _check_count(f"values in one {key}", len(child), MAX_ALTERNATIVES, param)
                _check_count(
                    "enum/anyOf/oneOf values in all", alternatives, MAX_SCHEMA_ALTERNATIVES, param
                )
            if key == "$ref" and isinstance(value, dict):
                refs_at[pointer] = _local_ref(child, param)
            elif isinstance(child, dict | list):
                stack.append((child, f"{pointer}/{_escape(str(key))}", depth + 1))
        if len(refs_at) > MAX_SCHEMA_REFS:
            raise InvalidRequest(f"The schema has more than {MAX_SCHEMA_REFS} $ref", param=param)
    return refs_at


def _check_count(what: str, count: int, limit: int, param: str) -> None:
    if count > limit:
        raise InvalidRequest(f"The schema has more than {limit} {what}", param=param)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _local_ref(ref: Any, param: str) -> str:
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise InvalidRequest("Only local $ref values ('#/...') are supported", param=param)
    return "#" if ref in ("#", "#/") else ref.rstrip("/")


def _resolve(schema: dict[str, Any], ref: str, param: str) -> Any:
    node: Any = schema
    for raw in ref[2:].split("/") if ref != "#" else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise InvalidRequest(f"$ref '{ref[:200]}' does not resolve", param=param)
    return node


def _refuse_cycles(schema: dict[str, Any], refs_at: dict[str, str], param: str) -> None:
    """A ``$ref`` graph edge goes from a ref to every ref inside its target; no cycles allowed."""
    targets = set(refs_at.values())
    for ref in targets:
        _resolve(schema, ref, param)
    # The refs a target leads to: those held inside the target's subtree (at most 256²).
    edges = {
        ref: {held for at, held in refs_at.items() if at == ref or at.startswith(ref + "/")}
        for ref in targets
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in targets:
        if state.get(start):
            continue
        path = [(start, iter(edges[start]))]
        state[start] = 1
        while path:
            node, children = path[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                path.pop()
            elif state.get(child) == 1:
                raise InvalidRequest(
                    f"The schema refers to itself through $ref '{child[:200]}'; "
                    "recursive schemas are not supported",
                    param=param,
                )
            elif not state.get(child):
                state[child] = 1
                path.append((child, iter(edges[child])))
