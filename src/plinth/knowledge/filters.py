"""OpenAI vector-store search filters over per-file attributes.

A comparison ``{"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte", "key", "value"}``, a
membership test ``{"type": "in"|"nin", "key", "value": [strings or numbers]}``
or a compound ``{"type": "and"|"or", "filters": [...]}``. A missing attribute
fails every comparison, ``ne`` and ``nin`` included (as in OpenAI: the filter
selects files that *have* the attribute). Ordering comparisons need both sides
numbers or both strings; booleans compare only for (in)equality. ``in`` is
``eq`` against any listed value, ``nin`` is ``ne`` against all of them.
Filters are checked once at parse time, so a bad one is a 400 before any
search runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from plinth.errors import FilterError

AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue]
# The members of an in/nin list: OpenAI's type allows strings and numbers, not booleans.
ListValue = tuple[str | int | float, ...]
ComparisonOp = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
LIST_COMPARISONS = ("in", "nin")
MAX_ATTRIBUTES = 16  # OpenAI's limit per file
MAX_FILTER_DEPTH = 16  # nested and/or levels: deeper is a client bug, not a query


@dataclass(frozen=True)
class Comparison:
    op: ComparisonOp
    key: str
    value: AttributeValue


@dataclass(frozen=True)
class Membership:
    """``in`` / ``nin``: the attribute equals one of / none of ``values``."""

    op: Literal["in", "nin"]
    key: str
    values: ListValue


@dataclass(frozen=True)
class Compound:
    op: Literal["and", "or"]
    filters: tuple[Filter, ...]


Filter = Comparison | Membership | Compound


def parse_filter(raw: object, depth: int = 1) -> Filter:
    if depth > MAX_FILTER_DEPTH:
        raise FilterError(f"filters are nested more than {MAX_FILTER_DEPTH} levels deep")
    if not isinstance(raw, Mapping):
        raise FilterError("a filter must be an object")
    kind = raw.get("type")
    if kind in ("and", "or"):
        items = raw.get("filters")
        if not isinstance(items, list) or not items:
            raise FilterError(f"an '{kind}' filter needs a non-empty 'filters' list")
        return Compound(kind, tuple(parse_filter(item, depth + 1) for item in items))
    if kind in COMPARISONS or kind in LIST_COMPARISONS:
        key, value = raw.get("key"), raw.get("value")
        if not isinstance(key, str) or not key:
            raise FilterError("a comparison filter needs a string 'key'")
        if kind in LIST_COMPARISONS:
            return Membership(kind, key, _list_value(kind, value))
        if not isinstance(value, str | int | float | bool):
            raise FilterError("a comparison filter's 'value' must be a string, number or boolean")
        return Comparison(kind, key, value)
    raise FilterError(f"unknown filter type {kind!r}")


def _list_value(kind: str, value: object) -> ListValue:
    # Empty is refused rather than given a meaning (match nothing / everything):
    # it is almost surely a client bug, and Milvus cannot express ``in []`` anyway.
    if not isinstance(value, list) or not value:
        raise FilterError(f"an '{kind}' filter's 'value' must be a non-empty list")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise FilterError(f"an '{kind}' filter's list holds only strings and numbers")
    return tuple(value)


def validate_attributes(attributes: Mapping[str, object] | None) -> dict[str, AttributeValue]:
    """OpenAI's rules: at most 16 keys, keys ≤ 64 chars, values str (≤ 512) / number / bool."""
    if attributes is None:
        return {}
    if len(attributes) > MAX_ATTRIBUTES:
        raise FilterError(f"at most {MAX_ATTRIBUTES} attributes per file")
    clean: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64:
            raise FilterError("attribute keys are strings of 1 to 64 characters")
        if isinstance(value, str) and len(value) > 512:
            raise FilterError(f"attribute '{key}' is longer than 512 characters")
        if not isinstance(value, str | int | float | bool):
            raise FilterError(f"attribute '{key}' must be a string, number or boolean")
        clean[key] = value
    return clean


def _compare(op: ComparisonOp, have: AttributeValue, want: AttributeValue) -> bool:
    if isinstance(have, bool) or isinstance(want, bool):
        if not (isinstance(have, bool) and isinstance(want, bool)):
            return op == "ne"
        if op in ("eq", "ne"):
            return (have == want) == (op == "eq")
        return False
    if isinstance(have, str) != isinstance(want, str):
        return op == "ne"
    if op == "eq":
        return have == want
    if op == "ne":
        return have != want
    if op == "gt":
        return have > want  # type: ignore[operator]
    if op == "gte":
        return have >= want  # type: ignore[operator]
    if op == "lt":
        return have < want  # type: ignore[operator]
    return have <= want  # type: ignore[operator]


def matches(flt: Filter, attributes: Attributes) -> bool:
    if isinstance(flt, Compound):
        results = (matches(f, attributes) for f in flt.filters)
        return all(results) if flt.op == "and" else any(results)
    if flt.key not in attributes:
        return False
    have = attributes[flt.key]
    if isinstance(flt, Membership):
        if flt.op == "in":
            return any(_compare("eq", have, want) for want in flt.values)
        return all(_compare("ne", have, want) for want in flt.values)
    return _compare(flt.op, have, flt.value)
