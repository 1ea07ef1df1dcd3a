"""Reading a client's JSON body within fixed bounds, without recursion of our own.

``json.loads`` alone lets a client send what later code trips over: nesting
thousands deep (``RecursionError`` in every recursive consumer), ``NaN`` and
``Infinity`` (not JSON, but Python accepts them), ``1e999`` (read as
infinity), 100,000-digit integers (``ValueError`` from Python's digit limit),
NUL characters and lone surrogates (rejected by PostgreSQL and by UTF-8
encoders). :func:`load_json` turns each of those into a 400.

The depth check is a linear scan of the brackets outside strings; bodies whose
bracket count is below the limit (nearly all) skip it entirely.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from plinth.errors import InvalidRequest

#: Deepest nesting of objects and arrays a request body may have.
MAX_JSON_DEPTH = 64

# A NUL or a surrogate can only reach a decoded string through a \u escape.
_SUSPICIOUS_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise InvalidRequest(f"{name} is not a JSON number; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidRequest(f"The number {text[:32]} is out of range")
    return value


def load_json(raw: bytes) -> Any:
    """Decode a request body, or raise :class:`InvalidRequest` saying what is wrong."""
    try:
        # Decoded here, strictly: json.loads(bytes) lets UTF-8-encoded surrogates through.
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep() from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise InvalidRequest(f"The request body has a value out of range: {exc}") from None
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        check_depth(text)
    if _SUSPICIOUS_ESCAPE.search(text):
        check_strings(data)
    return data


def _too_deep() -> InvalidRequest:
    return InvalidRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep")


# Applied to text json.loads accepted, so every string is well formed: one linear pass.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def check_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise if objects/arrays in valid JSON ``text`` nest deeper than ``limit``.

    The brackets outside strings, as +1/-1 steps, summed in C (no recursion, no
    Python-level loop over the items).
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit:
        raise _too_deep()


def check_strings(data: Any) -> None:
    """Raise if any string or key holds NUL or a lone surrogate (not storable as UTF-8)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            strings: list[str] = [value]
        elif isinstance(value, dict):
            strings = list(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            strings = []
            stack.extend(value)
        else:
            continue
        if any(BAD_CHARS.search(text) for text in strings):
            raise InvalidRequest(
                "Strings in the request must not contain NUL (\\u0000) or unpaired surrogates"
            )
