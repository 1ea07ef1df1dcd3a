"""Tests of the fake upstream itself, through real HTTP clients (httpx, aiohttp, openai SDK)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import openai
import pytest

from fakeupstream import FakeUpstream, Fault, iter_sse

USER_TEXT = "the quick  brown fox"
CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": USER_TEXT}]}


_sdk_clients: list[openai.OpenAI] = []


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up
    while _sdk_clients:
        _sdk_clients.pop().close()


def sdk(fake: FakeUpstream, **kw: Any) -> openai.OpenAI:
    client = openai.OpenAI(base_url=fake.base_url, api_key="x", max_retries=0, **kw)
    _sdk_clients.append(client)
    return client


def chat_url(fake: FakeUpstream) -> str:
    return f"{fake.base_url}/chat/completions"


def sse_events(text: str) -> list[tuple[str | None, str]]:
    return list(iter_sse(iter(text.split("\n"))))


# ------------------------------------------------------------------ normal behaviour


def test_urls_and_models(fake: FakeUpstream) -> None:
    assert fake.port > 0
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/v1"
    assert fake.root_url == f"http://127.0.0.1:{fake.port}"
    fake.models = ["a", "b"]
    assert [m.id for m in sdk(fake).models.list().data] == ["a", "b"]
    assert httpx.get(f"{fake.base_url}/models/zzz").status_code == 404


def test_chat_echo_non_stream_and_recording(fake: FakeUpstream) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "there  you"}],
        },
    ]
    resp = sdk(fake).chat.completions.create(model="m1", messages=messages)  # type: ignore[arg-type]
    assert resp.object == "chat.completion"
    assert resp.model == "m1"
    assert resp.choices[0].message.content == "hello there  you"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == 2 + 2 + 2 + 3
    assert resp.usage.completion_tokens == 3
    assert resp.usage.total_tokens == 12

    [rec] = fake.requests
    assert (rec.method, rec.path) == ("POST", "/v1/chat/completions")
    assert rec.headers["authorization"] == "Bearer x"
    assert rec.json["messages"] == messages
    assert json.loads(rec.body) == rec.json
    assert rec.fault is None
    assert fake.responses_completed == 1
    fake.clear()
    assert fake.requests == []


def test_reply_override(fake: FakeUpstream) -> None:
    fake.reply = "fixed answer"
    assert sdk(fake).chat.completions.create(**CHAT).choices[0].message.content == "fixed answer"
    fake.reply = lambda body: body["model"].upper()
    assert sdk(fake).chat.completions.create(**CHAT).choices[0].message.content == "FAKE-MODEL"


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_stream_echo(fake: FakeUpstream, include_usage: bool) -> None:
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = list(sdk(fake).chat.completions.create(**CHAT, stream=True, **extra))
    # role chunk, one chunk per word, finish chunk, [usage chunk]
    assert len(chunks) == 1 + 4 + 1 + int(include_usage)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == USER_TEXT
    assert [c.choices[0].delta.content for c in chunks[1:5]] == ["the", " quick", "  brown", " fox"]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    if include_usage:
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None
        assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (4, 4)
    else:
        assert all(c.usage is None for c in chunks)


def test_chat_stream_wire_format_and_chunk_words(fake: FakeUpstream) -> None:
    fake.chunk_words = 3
    body = {**CHAT, "stream": True}
    resp = httpx.post(chat_url(fake), json=body)
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.endswith("data: [DONE]\n\n")
    datas = [d for _, d in sse_events(resp.text)]
    assert datas[-1] == "[DONE]"
    pieces = [json.loads(d)["choices"][0]["delta"].get("content") for d in datas[1:-2]]
    assert pieces == ["the quick  brown", " fox"]


def test_tool_call_stream_and_non_stream(fake: FakeUpstream) -> None:
    args = '{"city": "Paris", "unit": "celsius"}'
    fake.tool_call = {"name": "get_weather", "arguments": args}
    client = sdk(fake)
    resp = client.chat.completions.create(**CHAT)
    call = resp.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.function.name, call.function.arguments) == ("get_weather", args)  # type: ignore[union-attr]
    assert resp.choices[0].finish_reason == "tool_calls"

    chunks = list(client.chat.completions.create(**CHAT, stream=True))
    arg_pieces = []
    name = None
    for c in chunks:
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            name = tc.function.name or name  # type: ignore[union-attr]
            arg_pieces.append(tc.function.arguments or "")  # type: ignore[union-attr]
    assert name == "get_weather"
    assert len([p for p in arg_pieces if p]) > 1  # really split across chunks
    assert "".join(arg_pieces) == args
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_completions_and_embeddings(fake: FakeUpstream) -> None:
    client = sdk(fake)
    done = client.completions.create(model="m", prompt="say this back")
    assert done.choices[0].text == "say this back"
    assert done.usage is not None and done.usage.prompt_tokens == 3
    streamed = client.completions.create(
        model="m", prompt="a b c", stream=True, stream_options={"include_usage": True}
    )
    chunks = list(streamed)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "a b c"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3

    # The SDK asks for base64; plain floats over httpx must decode to the same vectors.
    emb = client.embeddings.create(model="e", input=["alpha", "beta gamma"])
    assert [len(d.embedding) for d in emb.data] == [8, 8]
    assert emb.usage.prompt_tokens == 3
    plain = httpx.post(f"{fake.base_url}/embeddings", json={"model": "e", "input": "alpha"}).json()
    assert plain["data"][0]["embedding"] == pytest.approx(emb.data[0].embedding, abs=1e-6)
    assert emb.data[0].embedding != emb.data[1].embedding


def test_anthropic_messages(fake: FakeUpstream) -> None:
    body = {
        "model": "claude-x",
        "max_tokens": 50,
        "system": "be nice",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi there friend"}]}],
    }
    url = f"{fake.base_url}/messages"
    plain = httpx.post(url, json=body).json()
    assert plain["type"] == "message" and plain["role"] == "assistant"
    assert plain["content"] == [{"type": "text", "text": "hi there friend"}]
    assert plain["stop_reason"] == "end_turn"
    assert plain["usage"] == {"input_tokens": 5, "output_tokens": 3}

    text = httpx.post(url, json={**body, "stream": True}).text
    events = sse_events(text)
    kinds = [e for e, _ in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    datas = [json.loads(d) for _, d in events]
    assert all(d["type"] == e for d, (e, _) in zip(datas, events, strict=True))
    assert datas[0]["message"]["usage"]["input_tokens"] == 5
    assert datas[1]["content_block"] == {"type": "text", "text": ""}
    assert "".join(d["delta"]["text"] for d in datas[2:5]) == "hi there friend"
    assert {d["delta"]["type"] for d in datas[2:5]} == {"text_delta"}
    assert datas[6]["delta"]["stop_reason"] == "end_turn"
    assert datas[6]["usage"] == {"output_tokens": 3}

    fake.push(Fault.status(529))
    err = httpx.post(url, json=body)
    assert err.status_code == 529
    assert err.json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "fake upstream: HTTP 529"},
    }


# ------------------------------------------------------------------ faults


def test_status_429_with_retry_after(fake: FakeUpstream) -> None:
    fake.push(Fault.status(429, retry_after=2))
    resp = httpx.post(chat_url(fake), json=CHAT)
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "2"
    assert resp.json()["error"]["code"] == "rate_limit_exceeded"
    assert fake.requests[-1].fault == Fault.status(429, retry_after=2)

    fake.push(Fault.status(429, retry_after=1), Fault.status(500, body={"custom": True}))
    with pytest.raises(openai.RateLimitError) as info:
        sdk(fake).chat.completions.create(**CHAT)
    assert info.value.response.headers["retry-after"] == "1"
    resp = httpx.post(chat_url(fake), json=CHAT)
    assert (resp.status_code, resp.json()) == (500, {"custom": True})
    assert "retry-after" not in resp.headers


def test_reset_before_response(fake: FakeUpstream) -> None:
    fake.push(Fault.reset_before_response())
    with pytest.raises(httpx.TransportError):
        httpx.post(chat_url(fake), json=CHAT)
    rec = fake.requests[-1]
    assert rec.json == CHAT  # the request was read in full before the reset
    assert rec.fault is not None and rec.fault.kind == "reset_before_response"
    fake.push(Fault.reset_before_response())
    with pytest.raises(openai.APIConnectionError):
        sdk(fake).chat.completions.create(**CHAT)
    assert fake.responses_completed == 0
    # the server is still fine afterwards
    assert httpx.post(chat_url(fake), json=CHAT).status_code == 200


@pytest.mark.anyio
async def test_reset_during_stream_async(fake: FakeUpstream) -> None:
    fake.push(Fault.reset_during_stream(after_chunks=3))
    got: list[str] = []
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.TransportError):
            async with client.stream("POST", chat_url(fake), json={**CHAT, "stream": True}) as r:
                assert r.status_code == 200
                async for line in r.aiter_lines():
                    if line.startswith("data:"):
                        got.append(line)
        assert len(got) == 3
        assert json.loads(got[0][5:])["choices"][0]["delta"]["role"] == "assistant"
        # a new request on the same client gets a fresh connection and a normal answer
        ok = await client.post(chat_url(fake), json=CHAT)
        assert ok.json()["choices"][0]["message"]["content"] == USER_TEXT


def test_reset_during_stream_openai_sdk(fake: FakeUpstream) -> None:
    fake.push(Fault.reset_during_stream(after_chunks=2))
    seen = []
    with pytest.raises((httpx.TransportError, openai.APIConnectionError)):
        for chunk in sdk(fake).chat.completions.create(**CHAT, stream=True):
            seen.append(chunk)
    assert len(seen) == 2


def test_stall_then_read_timeout(fake: FakeUpstream) -> None:
    fake.push(Fault.stall(after_chunks=2))
    got: list[str] = []
    timeout = httpx.Timeout(5.0, read=0.3)
    started = time.monotonic()
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream(
            "POST", chat_url(fake), json={**CHAT, "stream": True}, timeout=timeout
        ) as resp,
    ):
        for line in resp.iter_lines():
            if line.startswith("data:"):
                got.append(line)
    assert len(got) == 2
    assert time.monotonic() - started < 2
    # the stall ends once the client has gone
    deadline = time.monotonic() + 2
    while fake.active_connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.active_connections == 0

    fake.push(Fault.stall())  # non-stream: no response byte at all
    with pytest.raises(openai.APITimeoutError):
        sdk(fake, timeout=0.3).chat.completions.create(**CHAT)


def test_malformed_json(fake: FakeUpstream) -> None:
    fake.push(Fault.malformed_json(), Fault.malformed_json(after_chunks=1))
    resp = httpx.post(chat_url(fake), json=CHAT)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        resp.json()

    resp = httpx.post(chat_url(fake), json={**CHAT, "stream": True})
    datas = [d for _, d in sse_events(resp.text)]
    assert json.loads(datas[0])["choices"][0]["delta"]["role"] == "assistant"
    with pytest.raises(json.JSONDecodeError):
        json.loads(datas[1])
    assert datas[-1] == "[DONE]"


def test_wrong_content_type(fake: FakeUpstream) -> None:
    fake.always(Fault.wrong_content_type())
    for body in (CHAT, {**CHAT, "stream": True}):
        resp = httpx.post(chat_url(fake), json=body)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/html")
        assert resp.text.startswith("<html>")


def test_latency(fake: FakeUpstream) -> None:
    fake.push(Fault.latency(0.4))
    started = time.monotonic()
    resp = httpx.post(chat_url(fake), json=CHAT)
    slow = time.monotonic() - started
    started = time.monotonic()
    httpx.post(chat_url(fake), json=CHAT)
    fast = time.monotonic() - started
    assert resp.json()["choices"][0]["message"]["content"] == USER_TEXT
    assert slow >= 0.4
    assert fast < 0.3


def test_no_usage_and_slow_chunks(fake: FakeUpstream) -> None:
    fake.push(Fault.no_usage(), Fault.no_usage())
    client = sdk(fake)
    assert client.chat.completions.create(**CHAT).usage is None
    stream = client.chat.completions.create(
        **CHAT, stream=True, stream_options={"include_usage": True}
    )
    assert all(c.usage is None and c.choices for c in stream)

    fake.push(Fault.slow_chunks(0.1))
    started = time.monotonic()
    stamps = []
    for _ in client.chat.completions.create(**CHAT, stream=True):
        stamps.append(time.monotonic() - started)
    assert len(stamps) == 6
    assert stamps[-1] - stamps[0] >= 0.4


def test_fifo_queue_and_always(fake: FakeUpstream) -> None:
    def codes(n: int) -> list[int]:
        return [httpx.post(chat_url(fake), json=CHAT).status_code for _ in range(n)]

    fake.push(Fault.status(500), Fault.status(503))
    fake.push(Fault.status(502))
    assert fake.pending_faults == 3
    assert httpx.get(f"{fake.base_url}/models").status_code == 200  # GETs take no fault
    assert codes(4) == [500, 503, 502, 200]

    fake.always(Fault.status(504))
    fake.push(Fault.status(429))
    assert codes(3) == [429, 504, 504]
    fake.always(None)
    assert codes(1) == [200]
    faults = [r.fault.code if r.fault else None for r in fake.requests if r.method == "POST"]
    assert faults == [500, 503, 502, None, 429, 504, 504, None]


def test_keep_alive_and_concurrency(fake: FakeUpstream) -> None:
    with httpx.Client() as client:
        for _ in range(5):
            assert client.post(chat_url(fake), json=CHAT).status_code == 200
        with client.stream("POST", chat_url(fake), json={**CHAT, "stream": True}) as r:
            r.read()
        assert client.get(f"{fake.base_url}/models").status_code == 200
    assert fake.connections_opened == 1
    assert fake.responses_completed == 7

    async def many() -> list[str]:
        fake.push(Fault.latency(0.3))
        async with aiohttp.ClientSession() as session:

            async def one(i: int) -> str:
                body = {"model": "m", "messages": [{"role": "user", "content": f"n{i}"}]}
                if i % 2:
                    body["stream"] = True
                async with session.post(chat_url(fake), json=body) as resp:
                    assert resp.status == 200
                    if i % 2:
                        return "".join(
                            json.loads(line[5:])["choices"][0]["delta"].get("content") or ""
                            for line in (await resp.text()).split("\n")
                            if line.startswith("data: {") and '"choices":[{' in line
                        )
                    return str((await resp.json())["choices"][0]["message"]["content"])

            return await asyncio.gather(*(one(i) for i in range(40)))

    started = time.monotonic()
    assert asyncio.run(many()) == [f"n{i}" for i in range(40)]
    assert time.monotonic() - started < 2  # the delayed one did not hold the others up
    assert fake.connections_opened > 2


def test_stop_is_fast_with_a_stall_open() -> None:
    fake = FakeUpstream().start()
    fake.push(Fault.stall(after_chunks=1), Fault.stall())
    errors: list[BaseException] = []

    def hang(stream: bool) -> None:
        try:
            with httpx.stream(
                "POST", chat_url(fake), json={**CHAT, "stream": stream}, timeout=30
            ) as r:
                r.read()
        except httpx.HTTPError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hang, args=(s,), daemon=True) for s in (True, False)]
    for t in threads:
        t.start()
    fake.wait_for_requests(2)
    time.sleep(0.1)
    assert fake.active_connections == 2
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1
    for t in threads:
        t.join(2)
    assert len(errors) == 2  # the clients saw their connections end
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{fake.base_url}/models", timeout=1)
