"""The prebuilt compact encoders write what ``json.dumps`` writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plinth.json_encode import compact_encoder

VALUES: list[Any] = [
    {"id": "chatcmpl-1", "choices": [{"message": {"content": 'héllo 你好 "q" \\ \n'}}]},
    [1, -2, 3.5, 1e300, None, True, False, "", [], {}],
    "just a string",
    {"nested": {"deeper": [{"x": 0.1}, {"y": [None]}]}, "k\u2028": "\u0000"},
    ["\ud800 a lone surrogate"],
]


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("value", VALUES)
def test_same_text_as_json_dumps(value: Any, ensure_ascii: bool) -> None:
    expected = json.dumps(value, ensure_ascii=ensure_ascii, separators=(",", ":"))
    assert compact_encoder(ensure_ascii=ensure_ascii)(value) == expected


def test_what_json_cannot_encode_is_refused() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact_encoder(ensure_ascii=False)({"when": object()})
