"""Automatic scorers: each maps (reply, item reference, schema) to a score in [0, 1]."""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any

Scorer = Callable[[str, Any, "dict[str, Any] | None"], float]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | set("，。！？、；：“”‘’（）《》")


def normalise(text: str) -> str:
    """SQuAD-style: lower case, no punctuation or articles, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _f1(pred: list[str], ref: list[str]) -> float:
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(reply: str, reference: Any) -> float:
    return float(normalise(reply) == normalise(str(reference)))


def token_f1(reply: str, reference: Any) -> float:
    return _f1(normalise(reply).split(), normalise(str(reference)).split())


def char_f1(reply: str, reference: Any) -> float:
    """Token F1 over characters, for languages written without spaces."""
    return _f1(list(normalise(reply).replace(" ", "")), list(normalise(str(reference))))


def qa(reply: str, reference: Any, _schema: dict[str, Any] | None = None) -> float:
    """Exact match, else token F1; a reply that contains the answer counts as a match."""
    if normalise(str(reference)) and f" {normalise(str(reference))} " in f" {normalise(reply)} ":
        return 1.0
    return max(exact_match(reply, reference), token_f1(reply, reference))


def qa_zh(reply: str, reference: Any, _schema: dict[str, Any] | None = None) -> float:
    if normalise(str(reference)) and normalise(str(reference)) in normalise(reply):
        return 1.0
    return char_f1(reply, reference)


def keywords(reply: str, reference: Any, _schema: dict[str, Any] | None = None) -> float:
    """Share of the reference's key phrases that the reply mentions (for summaries)."""
    phrases = [normalise(p) for p in (reference if isinstance(reference, list) else [reference])]
    phrases = [p for p in phrases if p]
    text = f" {normalise(reply)} "
    return sum(f" {p} " in text for p in phrases) / len(phrases) if phrases else 0.0


def nonempty(reply: str, _reference: Any = None, _schema: dict[str, Any] | None = None) -> float:
    return float(bool(reply.strip()))


def extract_json(reply: str) -> Any:
    """The first JSON object in a reply (models often wrap it in prose or fences)."""
    start = reply.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(reply[start:])
            return value
        except json.JSONDecodeError:
            start = reply.find("{", start + 1)
    return None


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def schema_valid(value: Any, schema: dict[str, Any]) -> bool:
    """The subset of JSON Schema the task sets use: type, required, properties' types."""
    expected = _TYPES.get(schema.get("type", "object"), (object,))
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        return False
    if isinstance(value, dict):
        if any(key not in value for key in schema.get("required", [])):
            return False
        for key, sub in schema.get("properties", {}).items():
            if key in value and not schema_valid(value[key], sub):
                return False
    return True


def json_schema(reply: str, reference: Any, schema: dict[str, Any] | None = None) -> float:
    """Half for a schema-valid object, half for the share of reference fields matched."""
    value = extract_json(reply)
    if not isinstance(value, dict):
        return 0.0
    valid = 1.0 if schema is None or schema_valid(value, schema) else 0.0
    if not isinstance(reference, dict) or not reference:
        return valid
    hits = sum(normalise(str(value.get(k, ""))) == normalise(str(v)) for k, v in reference.items())
    return 0.5 * valid + 0.5 * hits / len(reference)


SCORERS: dict[str, Scorer] = {
    "nonempty": nonempty,
    "qa": qa,
    "qa_zh": qa_zh,
    "json_schema": json_schema,
    "keywords": keywords,
}


def score(name: str, reply: str, reference: Any, schema: dict[str, Any] | None) -> float:
    return SCORERS[name](reply, reference, schema)
