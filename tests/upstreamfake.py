"""A fake upstream: a real HTTP server on 127.0.0.1 whose next answers can be faults.

It speaks enough of the OpenAI API (chat, completions, embeddings, models)
and of Anthropic's Messages API for the gateway to talk to it as to a real
provider, and it records every request it received, so tests can assert on
what left Plinth. Faults are queued per generation request::

    with FakeUpstream() as up:
        up.push(Fault.status(429, retry_after=1), Fault.reset_during_stream(2))
        ...  # the first request gets a 429, the second a stream cut after 2 chunks
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 0.0
    status_code: int = 200
    retry_after: float | None = None
    after_chunks: int = 0

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        return cls("latency", seconds=seconds)

    @classmethod
    def status(cls, code: int, retry_after: float | None = None) -> Fault:
        return cls("status", status_code=code, retry_after=retry_after)

    @classmethod
    def reset_before_response(cls) -> Fault:
        return cls("reset_before")

    @classmethod
    def reset_during_stream(cls, after_chunks: int) -> Fault:
        return cls("reset_during", after_chunks=after_chunks)

    @classmethod
    def stall(cls, after_chunks: int = 0) -> Fault:
        return cls("stall", after_chunks=after_chunks)

    @classmethod
    def malformed_json(cls) -> Fault:
        return cls("malformed_json")

    @classmethod
    def wrong_content_type(cls) -> Fault:
        return cls("wrong_content_type")

    @classmethod
    def no_usage(cls) -> Fault:
        return cls("no_usage")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Json | None
    fault: Fault | None = None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


@dataclass
class FakeUpstream:
    reply: str | None = None  # None: echo the last user message
    models: list[str] = field(default_factory=lambda: ["fake-model"])
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._always: Fault | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stalls: set[asyncio.Event] = set()

    # --- control ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def always(self, fault: Fault | None) -> None:
        self._always = fault

    def generation_requests(self) -> list[Received]:
        return [r for r in self.requests if r.body is not None]

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else self._always

    def __enter__(self) -> FakeUpstream:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            app = web.Application()
            app.router.add_get("/v1/models", self._models)
            app.router.add_post("/v1/chat/completions", self._chat)
            app.router.add_post("/v1/completions", self._completions)
            app.router.add_post("/v1/embeddings", self._embeddings)
            app.router.add_post("/v1/messages", self._messages)
            self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            # Handlers still running (stalled streams) end here, not at exit.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # never started, or stopped already
        for event in list(self._stalls):
            loop.call_soon_threadsafe(event.set)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    # --- handlers -----------------------------------------------------------------

    async def _receive(self, request: web.Request) -> tuple[Json, Fault | None]:
        body = await request.json()
        fault = self._next_fault()
        self.requests.append(
            Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body, fault)
        )
        if fault is not None and fault.kind == "latency":
            await asyncio.sleep(fault.seconds)
        return body, fault

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(Received(request.path, dict(request.headers), None))
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _early_fault(
        self, request: web.Request, fault: Fault | None
    ) -> web.StreamResponse | None:
        """Faults that replace the whole answer; None: answer normally."""
        if fault is None:
            return None
        if fault.kind == "status":
            headers = (
                {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            error = {"message": f"injected {fault.status_code}", "type": "fake_error", "code": None}
            return web.json_response({"error": error}, status=fault.status_code, headers=headers)
        if fault.kind == "reset_before":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()  # never sent: the connection is gone
        if fault.kind == "malformed_json":
            return web.Response(body=b'{"choices": [{"message": ', content_type="application/json")
        if fault.kind == "wrong_content_type":
            return web.Response(body=b"<html>Bad gateway</html>", content_type="text/html")
        return None

    def _answer_text(self, body: Json) -> str:
        if self.reply is not None:
            return self.reply
        if "messages" in body:
            users = [m for m in body["messages"] if m.get("role") == "user"]
            return _text_of(users[-1].get("content")) if users else ""
        prompt = body.get("prompt")
        return prompt if isinstance(prompt, str) else ""

    @staticmethod
    def _usage(body: Json, text: str) -> Json:
        prompt = " ".join(_text_of(m.get("content")) for m in body.get("messages", []))
        prompt = prompt or str(body.get("prompt", ""))
        p, c = len(prompt.split()), len(text.split())
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=True)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=False)

    async def _generate(self, request: web.Request, *, chat: bool) -> web.StreamResponse:
        body, fault = await self._receive(request)
        early = await self._early_fault(request, fault)
        if early is not None:
            return early
        text = self._answer_text(body)
        usage = None if fault is not None and fault.kind == "no_usage" else self._usage(body, text)
        if not body.get("stream"):
            choice: Json = (
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
                if chat
                else {"index": 0, "text": text, "finish_reason": "stop"}
            )
            answer: Json = {
                "id": "fake-1",
                "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [choice],
            }
            if usage is not None:
                answer["usage"] = usage
            return web.json_response(answer)
        pieces = [w + " " for w in text.split(" ")[:-1]] + [text.split(" ")[-1]] if text else []
        chunks: list[Json] = []
        obj = "chat.completion.chunk" if chat else "text_completion"
        if chat:
            chunks.append(
                {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
            )
        for piece in pieces:
            delta: Json = {"delta": {"content": piece}} if chat else {"text": piece}
            chunks.append({"choices": [{"index": 0, **delta, "finish_reason": None}]})
        end: Json = {"delta": {}} if chat else {"text": ""}
        chunks.append({"choices": [{"index": 0, **end, "finish_reason": "stop"}]})
        include = (body.get("stream_options") or {}).get("include_usage")
        if include and usage is not None:
            chunks.append({"choices": [], "usage": usage})
        return await self._sse(
            request,
            [{"id": "fake-1", "object": obj, "model": body.get("model"), **c} for c in chunks],
            fault,
        )

    async def _sse(
        self, request: web.Request, chunks: list[Json], fault: Fault | None
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for index, chunk in enumerate(chunks):
            if (
                fault is not None
                and fault.kind in ("reset_during", "stall")
                and index == fault.after_chunks
            ):
                if fault.kind == "reset_during":
                    assert request.transport is not None
                    await asyncio.sleep(0.05)  # let what was written leave first
                    request.transport.abort()
                    return response
                stalled = asyncio.Event()
                self._stalls.add(stalled)
                with contextlib.suppress(asyncio.CancelledError):
                    await stalled.wait()
                return response
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body, fault = await self._receive(request)
        early = await self._early_fault(request, fault)
        if early is not None:
            return early
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, item in enumerate(inputs):
            digest = hashlib.sha256(str(item).encode()).digest()
            data.append(
                {"object": "embedding", "index": index, "embedding": [b / 255 for b in digest[:8]]}
            )
        tokens = sum(len(str(i).split()) for i in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        """Anthropic's Messages API: the echo, as a whole message or its event stream."""
        body, fault = await self._receive(request)
        early = await self._early_fault(request, fault)
        if early is not None:
            return early
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        content = users[-1]["content"] if users else ""
        text = (
            self.reply
            if self.reply is not None
            else (
                content
                if isinstance(content, str)
                else "".join(b.get("text", "") for b in content if b.get("type") == "text")
            )
        )
        usage = {
            "input_tokens": len(str(body.get("messages")).split()),
            "output_tokens": len(text.split()),
        }
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model"),
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        events: list[tuple[str, Json]] = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_fake",
                        "type": "message",
                        "role": "assistant",
                        "model": body.get("model"),
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
        ]
        for word in [w + " " for w in text.split(" ")[:-1]] + [text.split(" ")[-1]]:
            events.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": word},
                    },
                )
            )
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        for name, data in events:
            await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        await response.write_eof()
        return response
