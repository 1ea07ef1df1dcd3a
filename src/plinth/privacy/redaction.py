"""Typed placeholders for personal data, and putting the values back.

Before a request leaves for a cloud deployment each detected value becomes a
placeholder such as ``[CN_MOBILE_1]`` (the same value always gets the same
one); the answer comes back with the placeholders replaced by the values.

In a stream a placeholder can be split across chunks ("[CN_MOB" + "ILE_1]"),
so :class:`StreamRestorer` holds back a trailing piece that could still grow
into a placeholder and releases it as soon as it cannot.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from plinth.privacy.detectors import Finding, detect

Json = dict[str, Any]

_PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_(\d+)\]")
# What the end of a text may look like while a placeholder is still arriving.
_PARTIAL = re.compile(r"\[[A-Z0-9_]*$")
_MAX_PLACEHOLDER = 40


class Redactor:
    """The placeholder ↔ value table of one request."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}  # placeholder → value
        self._placeholders: dict[tuple[str, str], str] = {}  # (entity, value) → placeholder
        self._counts: Counter[str] = Counter()

    def __bool__(self) -> bool:
        return bool(self.values)

    def placeholder(self, entity: str, value: str) -> str:
        key = (entity, value)
        if key not in self._placeholders:
            self._counts[entity] += 1
            name = f"[{entity}_{self._counts[entity]}]"
            self._placeholders[key] = name
            self.values[name] = value
        return self._placeholders[key]

    def redact(self, text: str, findings: list[Finding] | None = None) -> str:
        found = detect(text) if findings is None else findings
        if not found:
            return text
        parts, last = [], 0
        for finding in found:
            parts.append(text[last : finding.start])
            parts.append(self.placeholder(finding.entity, finding.text))
            last = finding.end
        parts.append(text[last:])
        return "".join(parts)

    def restore(self, text: str, *, json_string: bool = False) -> str:
        """Put the values back; inside a JSON string (tool arguments) escaped as JSON."""
        if not self.values or "[" not in text:
            return text

        def value(match: re.Match[str]) -> str:
            original = self.values.get(match.group(0))
            if original is None:
                return match.group(0)  # not ours: the model wrote it
            return json.dumps(original, ensure_ascii=False)[1:-1] if json_string else original

        return _PLACEHOLDER.sub(value, text)


class StreamRestorer:
    """Restores placeholders in text that arrives piece by piece."""

    def __init__(self, redactor: Redactor, *, json_string: bool = False):
        self._restore: Callable[[str], str] = lambda t: redactor.restore(t, json_string=json_string)
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        partial = _PARTIAL.search(text[-_MAX_PLACEHOLDER:])
        if partial is None:
            self._held = ""
            return self._restore(text)
        cut = len(text) - (len(text[-_MAX_PLACEHOLDER:]) - partial.start())
        self._held = text[cut:]
        return self._restore(text[:cut])

    def holding(self) -> bool:
        return bool(self._held)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self._restore(text)


class ChunkRestorer:
    """Restores placeholders in OpenAI stream chunks: content, text and tool arguments.

    Each choice's content, and each of its tool calls' arguments, has its own
    :class:`StreamRestorer`; whatever is still held when a choice finishes is
    released into that finishing chunk.
    """

    def __init__(self, redactor: Redactor):
        self._redactor = redactor
        self._text: dict[int, StreamRestorer] = {}
        self._args: dict[tuple[int, int], StreamRestorer] = {}

    def process(self, chunk: Json) -> None:
        """Rewrite ``chunk`` in place."""
        for choice in chunk.get("choices") or ():
            index = int(choice.get("index") or 0)
            delta = choice.get("delta")
            holder, field_name = (delta, "content") if isinstance(delta, dict) else (choice, "text")
            piece = holder.get(field_name)
            if isinstance(piece, str):
                holder[field_name] = self._feed_text(index, piece)
            calls = delta.get("tool_calls") if isinstance(delta, dict) else None
            for call in calls or ():
                function = call.get("function") or {}
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    key = (index, int(call.get("index") or 0))
                    restorer = self._args.setdefault(
                        key, StreamRestorer(self._redactor, json_string=True)
                    )
                    function["arguments"] = restorer.feed(arguments)
            if choice.get("finish_reason"):
                self._release(index, choice, holder, field_name)

    def _feed_text(self, index: int, piece: str) -> str:
        return self._text.setdefault(index, StreamRestorer(self._redactor)).feed(piece)

    def _release(self, index: int, choice: Json, holder: Json, field_name: str) -> None:
        if index in self._text:
            rest = self._text.pop(index).flush()
            if rest:
                holder[field_name] = str(holder.get(field_name) or "") + rest
        for key in [k for k in self._args if k[0] == index]:
            rest = self._args.pop(key).flush()
            if rest and isinstance(choice.get("delta"), dict):
                delta = choice["delta"]
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": key[1], "function": {"arguments": rest}})

    def holding(self) -> bool:
        """Whether any text is held back at a possible placeholder."""
        return any(r.holding() for r in (*self._text.values(), *self._args.values()))

    def leftovers(self) -> list[tuple[int, str]]:
        """Text still held when a stream ended without finishing its choices."""
        out = [(index, r.flush()) for index, r in self._text.items()]
        self._text.clear()
        return [(i, t) for i, t in out if t]


def restore_answer(result: Json, redactor: Redactor) -> None:
    """Restore placeholders in a whole chat or completion answer, in place."""
    for choice in result.get("choices") or ():
        message = choice.get("message")
        if isinstance(message, dict):
            if isinstance(message.get("content"), str):
                message["content"] = redactor.restore(message["content"])
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                if isinstance(function.get("arguments"), str):
                    function["arguments"] = redactor.restore(
                        function["arguments"], json_string=True
                    )
        if isinstance(choice.get("text"), str):
            choice["text"] = redactor.restore(choice["text"])
