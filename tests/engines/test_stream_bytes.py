"""The streaming proxy's byte path: SSE events cut from raw reads, and chunks whose
id and model are swapped in their bytes give the same JSON as the decoding path."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from plinth.engines.upstream_http import MAX_EVENT_BYTES, EventReader, RawChunk
from plinth.errors import UpstreamBadResponse
from plinth.metering.accounting import Accounting
from plinth.privacy.redaction import Redactor
from plinth.streaming import StreamShaper, sse_batches


def events(*reads: bytes) -> list[tuple[bytes, bytes]]:
    reader, out = EventReader("test"), []
    for data in (*reads, b""):
        reader.feed(data)
        while (event := reader.take()) is not None:
            out.append(event)
    return out


def test_events_split_across_reads_and_line_endings() -> None:
    assert events(b'data: {"a"', b":1}\n", b"\ndata: [DONE]\n\n") == [
        (b"message", b'{"a":1}'),
        (b"message", b"[DONE]"),
    ]
    # CRLF, with the CR and the LF in different reads, and a lone CR.
    assert events(b"data: x\r", b"\n\r\ndata: y\r\r") == [(b"message", b"x"), (b"message", b"y")]
    # Named events, several data lines, comments and ids dropped, a last event without
    # its blank line.
    assert events(b": keep-alive\n\nevent: delta\nid: 7\ndata: a\ndata: b\n\ndata: end") == [
        (b"delta", b"a\nb"),
        (b"message", b"end"),
    ]


def test_events_read_in_pieces_of_any_size() -> None:
    stream = (
        b"data: first\r\n\r\n: note\n\nevent: e\ndata: " + b"x" * 5000 + b"\n\n"
        b"data: a\rdata: b\r\rdata: last"
    )
    whole = events(stream)
    assert [e[1][:5] for e in whole] == [b"first", b"xxxxx", b"a\nb", b"last"]
    assert whole[1] == (b"e", b"x" * 5000)
    for size in (1, 2, 3, 7, 1448):
        pieces = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert events(*pieces) == whole, size


def test_an_event_that_never_ends_is_refused() -> None:
    reader = EventReader("deployment 'x'")
    reader.feed(b"data: " + b"a" * (MAX_EVENT_BYTES // 2))
    with pytest.raises(UpstreamBadResponse, match="without ending an event"):
        reader.feed(b"a" * (MAX_EVENT_BYTES // 2 + 10))


class _State:
    def observe_ttft(self, seconds: float) -> None:
        self.ttft = seconds


def shaper(*, redactor: Redactor | None = None, include_usage: bool = False) -> StreamShaper:
    acct = Accounting("req-1", "chat.completions", "public-model", None)
    if redactor is not None:
        acct.privacy, acct.redacted = SimpleNamespace(redactor=redactor), True  # type: ignore[assignment]
    return StreamShaper(
        acct,
        model="public-model",
        include_usage=include_usage,
        state=_State(),  # type: ignore[arg-type]
        is_chat=True,
        usage_source="upstream",
    )


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> bytes:
    body = {
        "id": "up-9",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "upstream-model",
        "system_fingerprint": None,
        "choices": [
            {"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}
        ],
        "usage": None,
        **extra,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def sent(pieces: list[Any]) -> list[Any]:
    return [json.loads(p) if isinstance(p, bytes) else json.loads(json.dumps(p)) for p in pieces]


@pytest.mark.parametrize("compact", [True, False])
def test_byte_path_equals_decoding_path(compact: bool) -> None:
    texts = ["Hel", 'lo "wo', "rld\\ 你好", ' "id":"x","model":"y" ']
    raw = [chunk(t) for t in texts] + [
        chunk(finish="stop"),
        chunk(choices=[], usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}),
    ]
    if compact:
        raw = [json.dumps(json.loads(r), separators=(",", ":")).encode() for r in raw]
    fast, slow = shaper(include_usage=True), shaper(include_usage=True)
    fast_out = [p for r in raw for p in fast.shape(RawChunk(r, "test"))]
    slow_out = [p for r in raw for p in slow.shape(json.loads(r))]
    # After the first output, content chunks went out as bytes, the rest as dicts.
    assert [type(p) for p in fast_out] == [dict, bytes, bytes, bytes, dict, dict]
    assert sent(fast_out) == sent(slow_out)
    first = json.loads(fast_out[1])
    assert first["id"] == "chatcmpl-req-1" and first["model"] == "public-model"
    assert "usage" not in first  # "usage": null is dropped as the decoding path drops it
    assert fast.text() == slow.text() == "".join(texts)
    assert fast.acct.finish_reason == "stop" and fast.acct.completion_tokens == 4


def test_a_chunk_in_another_shape_is_decoded() -> None:
    s = shaper()
    s.shape(RawChunk(chunk("a"), "test"))
    odd = json.dumps({"choices": [{"index": 0, "delta": {"content": "b"}}], "id": "z"}).encode()
    (out,) = s.shape(RawChunk(odd, "test"))
    assert isinstance(out, dict) and out["id"] == "chatcmpl-req-1"
    timings = chunk("c", timings={"predicted_ms": 5})
    (out,) = s.shape(RawChunk(timings, "test"))
    assert isinstance(out, dict) and "timings" not in out


def test_redacting_restores_a_placeholder_split_across_byte_chunks() -> None:
    redactor = Redactor()
    placeholder = redactor.placeholder("CN_MOBILE", "13812345678")
    s = shaper(redactor=redactor)
    pieces = ["Call ", placeholder[:5], placeholder[5:], " now", " please"]
    out = [p for t in pieces for p in s.shape(RawChunk(chunk(t), "test"))]
    out += [p for p in s.shape(RawChunk(chunk(finish="stop"), "test"))]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in sent(out) if c["choices"])
    assert text == "Call 13812345678 now please"
    assert "[" not in text
    # Chunks with nothing held and no "[" went out as bytes.
    assert any(isinstance(p, bytes) for p in out)


async def _chunks(items: list[RawChunk]) -> Any:
    for item in items:
        yield item


@pytest.mark.anyio
async def test_chunks_read_together_leave_in_one_write() -> None:
    s = shaper()
    first = RawChunk(chunk("a"), "test")
    # b and c were in one read (b says more is buffered); d came alone.
    rest = [
        RawChunk(chunk("b"), "test", more=True),
        RawChunk(chunk("c"), "test"),
        RawChunk(chunk("d"), "test"),
    ]
    writes = [w async for w in sse_batches(s, [first], _chunks(rest))]
    assert len(writes) == 3
    assert [w.count(b"data: ") for w in writes] == [1, 2, 1]
    frames = [f for w in writes for f in w.split(b"\n\n") if f]
    texts = [
        json.loads(f.removeprefix(b"data: "))["choices"][0]["delta"]["content"] for f in frames
    ]
    assert texts == ["a", "b", "c", "d"]


@pytest.mark.anyio
async def test_a_failure_mid_batch_still_sends_what_was_read() -> None:
    async def failing() -> Any:
        yield RawChunk(chunk("b"), "test", more=True)
        raise RuntimeError("upstream gone")

    s = shaper()
    frames = sse_batches(s, [RawChunk(chunk("a"), "test")], failing())
    assert (await anext(frames)).count(b"data: ") == 1
    assert b'"b"' in await anext(frames)
    with pytest.raises(RuntimeError, match="upstream gone"):
        await anext(frames)


class _LocalStream:
    """A local engine's chunk stream: ``buffered`` counts chunks already arrived."""

    def __init__(self, arrivals: list[list[dict[str, Any]]]):
        self.arrivals = arrivals  # chunks that arrive together, arrival by arrival
        self.here: list[dict[str, Any]] = []

    def __aiter__(self) -> _LocalStream:
        return self

    @property
    def buffered(self) -> int:
        return len(self.here)

    async def __anext__(self) -> dict[str, Any]:
        if not self.here:
            if not self.arrivals:
                raise StopAsyncIteration
            self.here = self.arrivals.pop(0)
        return self.here.pop(0)


def delta(text: str | None) -> dict[str, Any]:
    content = {"role": "assistant"} if text is None else {"content": text}
    return {"id": "x", "model": "m", "choices": [{"index": 0, "delta": content}]}


@pytest.mark.anyio
async def test_held_chunks_leave_with_the_first_body_and_local_tokens_of_one_tick_together() -> (
    None
):
    s = shaper()
    # b and c arrived within one loop tick; d alone.
    stream = _LocalStream([[delta("b"), delta("c")], [delta("d")]])
    writes = [w async for w in sse_batches(s, [delta(None), delta("a")], stream)]
    # The role-only chunk and the first output in the first write: its first body.
    assert [w.count(b"data: ") for w in writes] == [2, 2, 1]
    assert b'"content":"a"' in writes[0]
    assert b'"content":"b"' in writes[1] and b'"content":"c"' in writes[1]
