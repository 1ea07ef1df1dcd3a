"""A scriptable fake upstream provider: a real HTTP/1.1 server on 127.0.0.1.

It speaks the parts of the OpenAI API the gateway proxies (models, chat
completions, completions, embeddings) and Anthropic's Messages API, records
every request it receives, and can be told to misbehave on the next requests::

    with FakeUpstream() as up:
        up.push(Fault.status(429, retry_after=1), Fault.reset_during_stream(after_chunks=2))
        ...  # 1st POST gets a 429, 2nd a stream cut after two SSE events, 3rd is normal

The server is written directly on ``asyncio.start_server`` (no web framework)
so that it controls the socket byte by byte: it can abort a connection with a
TCP RST before or in the middle of a response, stall forever, or send broken
bodies. It runs its own event loop in a daemon thread, so it works the same
from sync tests, from async tests and behind a gateway in another thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

__all__ = ["FakeUpstream", "Fault", "Received"]

_REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}

_OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour. Build it with the class-method constructors."""

    kind: str
    seconds: float = 0.0
    code: int = 200
    retry_after: float | str | None = None
    body: Any = None
    after_chunks: int = 0

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering, then answer normally."""
        return cls("latency", seconds=seconds)

    @classmethod
    def status(cls, code: int, retry_after: float | str | None = None, body: Any = None) -> Fault:
        """Answer with HTTP ``code``; the body is an error JSON unless ``body`` is given
        (dict/list → JSON, str/bytes → sent as is with content-type application/json)."""
        return cls("status", code=code, retry_after=retry_after, body=body)

    @classmethod
    def reset_before_response(cls) -> Fault:
        """Read the request, then abort the TCP connection (RST) without a response byte."""
        return cls("reset_before_response")

    @classmethod
    def reset_during_stream(cls, after_chunks: int = 1) -> Fault:
        """Send the headers and ``after_chunks`` SSE events, then abort the connection (RST)."""
        return cls("reset_during_stream", after_chunks=after_chunks)

    @classmethod
    def stall(cls, after_chunks: int = 0) -> Fault:
        """Send ``after_chunks`` SSE events then nothing more, until the client leaves
        or the server stops."""
        return cls("stall", after_chunks=after_chunks)

    @classmethod
    def malformed_json(cls, after_chunks: int = 0) -> Fault:
        """200 with a truncated JSON body; for a stream, ``after_chunks`` good events,
        then a ``data:`` line that is not JSON, then the normal end of the stream."""
        return cls("malformed_json", after_chunks=after_chunks)

    @classmethod
    def wrong_content_type(cls) -> Fault:
        """200 ``text/html`` page, for stream and non-stream requests alike."""
        return cls("wrong_content_type")

    @classmethod
    def no_usage(cls) -> Fault:
        """A normal answer with no usage anywhere (even if the request asked for it)."""
        return cls("no_usage")

    @classmethod
    def slow_chunks(cls, interval_s: float) -> Fault:
        """A normal stream with ``interval_s`` seconds between SSE events."""
        return cls("slow_chunks", seconds=interval_s)


@dataclass
class Received:
    """One request as the fake upstream received it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes
    fault: Fault | None = None
    query: str = ""
    at: float = field(default_factory=time.monotonic)


class _Abort(Exception):
    """The connection is to be aborted with a RST."""


class _Closed(Exception):
    """The connection is to be closed (client went away, or a stall ended)."""


# --------------------------------------------------------------------------- helpers


def _text_of(content: Any) -> str:
    """The text of an OpenAI or Anthropic message content: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return " ".join(texts)
    return ""


def _words(text: str) -> int:
    return len(text.split())


def _split_words(text: str, per_chunk: int) -> list[str]:
    """Pieces of ``per_chunk`` words each, whitespace kept, so that "".join(...) == text."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces = [tail]
    n = max(1, per_chunk)
    return ["".join(pieces[i : i + n]) for i in range(0, len(pieces), n)]


def _split_chars(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _vector(item: Any, dims: int) -> list[float]:
    key = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
    digest = hashlib.sha256(key.encode()).digest()
    while len(digest) < dims:
        digest += hashlib.sha256(digest).digest()
    raw = [(b / 127.5) - 1.0 for b in digest[:dims]]
    norm = sum(v * v for v in raw) ** 0.5 or 1.0
    return [round(v / norm, 6) for v in raw]


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


# --------------------------------------------------------------------------- the server


class FakeUpstream:
    """A fake OpenAI-compatible / Anthropic upstream on 127.0.0.1 (see module docstring).

    Behaviour knobs (plain attributes, may be changed while running):
    ``models``, ``reply`` (str, or a callable taking the request JSON and returning
    a str; None = echo the last user text), ``chunk_words``, ``tool_call``
    (``{"name": ..., "arguments": "..."}`` or None), ``tool_arg_chunk_chars``,
    ``embedding_dims``.
    """

    def __init__(self) -> None:
        self.models: list[str] = ["fake-model"]
        self.reply: str | Callable[[Any], str] | None = None
        self.chunk_words: int = 1
        self.tool_call: dict[str, str] | None = None
        self.tool_arg_chunk_chars: int = 8
        self.embedding_dims: int = 8

        self.active_connections = 0
        self.connections_opened = 0
        self.responses_completed = 0

        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._queue: deque[Fault] = deque()
        self._always: Fault | None = None
        self._seq = 0

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._stopping: asyncio.Event | None = None
        self.port = 0

    # ----------------------------------------------------------------- lifecycle

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def start(self) -> FakeUpstream:
        if self._thread is not None:
            return self
        ready: threading.Event = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread = None
            raise failure[0]
        return self

    async def _open(self) -> None:
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, backlog=1024, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop the server; returns in well under a second, stalled streams or not."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._thread = None
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                fut.result(timeout=0.8)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=0.5)

    async def _shutdown(self) -> None:
        assert self._stopping is not None
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=0.5)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- scripting

    def push(self, *faults: Fault) -> None:
        """Queue faults, consumed FIFO, one per incoming POST request."""
        with self._lock:
            self._queue.extend(faults)

    def always(self, fault: Fault | None) -> None:
        """The fault applied to POST requests when the queue is empty (None: behave)."""
        with self._lock:
            self._always = fault

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[Received]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> Received:
        with self._lock:
            return self._requests[-1]

    def clear(self) -> None:
        """Forget recorded requests, queued faults and the ``always`` fault."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._always = None

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.requests
            if len(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.005)

    def _take_fault(self) -> Fault | None:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            return self._always

    def _next_id(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    # ----------------------------------------------------------------- connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.active_connections += 1
        self.connections_opened += 1
        try:
            while True:
                keep_alive = await self._serve_one(reader, writer)
                if not keep_alive:
                    break
        except _Abort:
            _abort_with_rst(writer)
        except (_Closed, ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            writer.transport.abort()
        finally:
            self.active_connections -= 1
            self._writers.discard(writer)
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return False  # clean EOF between requests
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await _write_simple(writer, 400, b"bad request line", "text/plain", False)
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        conn = headers.get("connection", "").lower()
        keep_alive = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn

        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await _read_body(reader, headers)
        path, _, query = target.partition("?")
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None

        fault = self._take_fault() if method == "POST" else None
        rec = Received(method, path, headers, parsed, body, fault, query)
        with self._lock:
            self._requests.append(rec)
        resp = _Responder(self, reader, writer, rec, keep_alive)
        await resp.dispatch()
        return keep_alive


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                # trailers, up to the empty line
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


async def _write_simple(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    content_type: str,
    keep_alive: bool,
    extra: dict[str, str] | None = None,
) -> None:
    head = _head(status, {"content-type": content_type, "content-length": str(len(body))}, extra)
    writer.write(head + _conn_line(keep_alive) + b"\r\n" + body)
    await writer.drain()


def _head(status: int, base: dict[str, str], extra: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", "server: fakeupstream"]
    for key, value in {**base, **(extra or {})}.items():
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def _conn_line(keep_alive: bool) -> bytes:
    return b"connection: keep-alive\r\n" if keep_alive else b"connection: close\r\n"


# --------------------------------------------------------------------------- one response


class _Responder:
    """Produces the answer to one request, applying its fault."""

    def __init__(
        self,
        fake: FakeUpstream,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        rec: Received,
        keep_alive: bool,
    ) -> None:
        self.fake = fake
        self.reader = reader
        self.writer = writer
        self.rec = rec
        self.keep_alive = keep_alive
        self.fault = rec.fault
        self.kind = rec.fault.kind if rec.fault else None
        self.body: Json = rec.json if isinstance(rec.json, dict) else {}
        self.created = int(time.time())
        default_model = fake.models[0] if fake.models else "fake-model"
        self.model = str(self.body.get("model") or default_model)

    @property
    def usage_wanted(self) -> bool:
        return self.kind != "no_usage"

    # ---------------------------------------------------------- dispatch

    async def dispatch(self) -> None:
        rec = self.rec
        if self.kind == "latency":
            assert self.fault is not None
            await asyncio.sleep(self.fault.seconds)
        if self.kind == "reset_before_response":
            raise _Abort
        if rec.method == "GET":
            if rec.path == "/v1/models":
                await self.send_json(
                    200, {"object": "list", "data": [self._model(m) for m in self.fake.models]}
                )
                return
            if rec.path.startswith("/v1/models/"):
                name = rec.path[len("/v1/models/") :]
                if name in self.fake.models:
                    await self.send_json(200, self._model(name))
                else:
                    await self.send_error(404, f"The model '{name}' does not exist")
                return
            if rec.path in ("/", "/health", "/v1"):
                await self.send_json(200, {"status": "ok"})
                return
        handlers = {
            "/v1/chat/completions": self.chat,
            "/v1/completions": self.completions,
            "/v1/embeddings": self.embeddings,
            "/v1/messages": self.messages,
        }
        handler = handlers.get(rec.path)
        if handler is None:
            await self.send_error(404, f"Unknown path {rec.path}")
            return
        if rec.method != "POST":
            await self.send_error(405, f"Method {rec.method} not allowed")
            return
        if self.rec.json is None or not isinstance(self.rec.json, dict):
            await self.send_error(400, "Request body is not a JSON object")
            return
        if self.kind == "status":
            await self.send_status_fault()
            return
        if self.kind == "wrong_content_type":
            page = b"<html><head><title>502</title></head><body>Bad gateway</body></html>"
            await self.send_raw(200, page, "text/html; charset=utf-8")
            return
        await handler()

    @staticmethod
    def _model(name: str) -> Json:
        return {"id": name, "object": "model", "created": 0, "owned_by": "fakeupstream"}

    # ---------------------------------------------------------- writing

    async def send_raw(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self._complete()  # counted as the last bytes go out, so clients never see it lag
        await _write_simple(self.writer, status, body, content_type, self.keep_alive, extra)

    def _complete(self) -> None:
        self.fake.responses_completed += 1

    async def send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        if self.kind == "malformed_json" and status == 200:
            body = body[: max(1, len(body) // 2)]
        elif self.kind in ("reset_during_stream", "stall") and status == 200:
            await self._partial_then_fault(body)
            return
        await self.send_raw(status, body, "application/json")

    async def _partial_then_fault(self, body: bytes) -> None:
        """Non-stream answer under a stream fault: headers and half the body, then the fault."""
        assert self.fault is not None
        if self.kind == "stall" and self.fault.after_chunks == 0:
            await self._stall()
        head = _head(200, {"content-type": "application/json", "content-length": str(len(body))})
        self.writer.write(head + _conn_line(self.keep_alive) + b"\r\n" + body[: len(body) // 2])
        await self.writer.drain()
        if self.kind == "stall":
            await self._stall()
        await asyncio.sleep(0.05)
        raise _Abort

    async def send_error(self, status: int, message: str) -> None:
        await self.send_raw(
            status, json.dumps(self._error_body(status, message)).encode(), "application/json"
        )

    def _error_body(self, status: int, message: str) -> Json:
        if self.rec.path == "/v1/messages":
            kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
            return {"type": "error", "error": {"type": kind, "message": message}}
        err_type, code = _OPENAI_ERROR_TYPES.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        return {"error": {"message": message, "type": err_type, "param": None, "code": code}}

    async def send_status_fault(self) -> None:
        assert self.fault is not None
        fault = self.fault
        extra = {}
        if fault.retry_after is not None:
            ra = fault.retry_after
            extra["retry-after"] = (
                str(int(ra)) if isinstance(ra, int | float) and float(ra).is_integer() else str(ra)
            )
        if fault.body is None:
            payload = json.dumps(
                self._error_body(fault.code, f"fake upstream: HTTP {fault.code}")
            ).encode()
        elif isinstance(fault.body, bytes):
            payload = fault.body
        elif isinstance(fault.body, str):
            payload = fault.body.encode()
        else:
            payload = json.dumps(fault.body).encode()
        await self.send_raw(fault.code, payload, "application/json", extra)

    async def stream(self, events: list[bytes]) -> None:
        """Send SSE ``events`` as a chunked text/event-stream, applying stream faults."""
        fault, kind, w = self.fault, self.kind, self.writer
        head = _head(
            200,
            {
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "transfer-encoding": "chunked",
            },
        )
        w.write(head + _conn_line(self.keep_alive) + b"\r\n")
        await w.drain()
        cut = fault.after_chunks if fault and kind in ("reset_during_stream", "stall") else None
        if kind == "malformed_json":
            assert fault is not None
            n = fault.after_chunks
            bad = b'data: {"id": "broken", "choices": [{"delta": {"content": \n\n'
            events = [*events[:n], bad, *events[-1:]]
        for i, event in enumerate(events):
            if cut is not None and i >= cut:
                break
            if i and kind == "slow_chunks":
                assert fault is not None
                await asyncio.sleep(fault.seconds)
            w.write(b"%x\r\n%s\r\n" % (len(event), event))
            await w.drain()
        if cut is not None:
            if kind == "stall":
                await self._stall()
            await asyncio.sleep(0.05)  # let the client take what was sent
            raise _Abort
        self._complete()
        w.write(b"0\r\n\r\n")
        await w.drain()

    async def _stall(self) -> None:
        """Hold the connection: return never; end when the client goes or the server stops."""
        reader_eof = asyncio.ensure_future(self._until_client_gone())
        stopping = self.fake._stopping
        assert stopping is not None
        stop_wait = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({reader_eof, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader_eof.cancel()
            stop_wait.cancel()
        raise _Closed

    async def _until_client_gone(self) -> None:
        # Nothing more will be answered on this connection: drain what the client sends
        # until it closes (EOF) or resets it (error).
        with contextlib.suppress(ConnectionError, OSError):
            while await self.reader.read(65536):
                pass

    # ---------------------------------------------------------- content

    def reply_text(self, last_user: str) -> str:
        reply = self.fake.reply
        if callable(reply):
            return str(reply(self.rec.json))
        return reply if reply is not None else last_user

    def _usage(self, prompt: int, completion: int) -> Json:
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    # ---------------------------------------------------------- OpenAI chat

    async def chat(self) -> None:
        messages = self.body.get("messages") or []
        texts = [_text_of(m.get("content")) for m in messages if isinstance(m, dict)]
        users = [
            _text_of(m.get("content"))
            for m in messages
            if isinstance(m, dict) and m.get("role") == "user"
        ]
        prompt_tokens = sum(_words(t) for t in texts)
        tool = self.fake.tool_call
        reply = "" if tool else self.reply_text(users[-1] if users else "")
        completion_tokens = _words(tool["arguments"]) if tool else _words(reply)
        usage = self._usage(prompt_tokens, completion_tokens)
        cid = f"chatcmpl-fake{self.fake._next_id()}"
        finish = "tool_calls" if tool else "stop"
        call_id = f"call_fake{self.fake._next_id()}" if tool else ""

        if not self.body.get("stream"):
            message: Json = {"role": "assistant", "content": None if tool else reply}
            if tool:
                message["tool_calls"] = [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": tool["name"], "arguments": tool["arguments"]},
                    }
                ]
            payload: Json = {
                "id": cid,
                "object": "chat.completion",
                "created": self.created,
                "model": self.model,
                "choices": [
                    {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                ],
            }
            if self.usage_wanted:
                payload["usage"] = usage
            await self.send_json(200, payload)
            return

        def chunk(delta: Json, finish_reason: str | None = None) -> bytes:
            return _sse(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [
                        {
                            "index": 0,
                            "delta": delta,
                            "finish_reason": finish_reason,
                            "logprobs": None,
                        }
                    ],
                }
            )

        events = [chunk({"role": "assistant", "content": ""})]
        if tool:
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": tool["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for piece in _split_chars(tool["arguments"], self.fake.tool_arg_chunk_chars):
                events.append(
                    chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                )
        else:
            for piece in _split_words(reply, self.fake.chunk_words):
                events.append(chunk({"content": piece}))
        events.append(chunk({}, finish))
        if self._include_usage():
            events.append(
                _sse(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            )
        events.append(_sse("[DONE]"))
        await self.stream(events)

    def _include_usage(self) -> bool:
        opts = self.body.get("stream_options")
        return bool(isinstance(opts, dict) and opts.get("include_usage")) and self.usage_wanted

    # ---------------------------------------------------------- OpenAI completions

    async def completions(self) -> None:
        prompt = self.body.get("prompt", "")
        prompts = prompt if isinstance(prompt, list) else [prompt]
        prompt_texts = [p if isinstance(p, str) else "" for p in prompts]
        reply = self.reply_text(prompt_texts[-1] if prompt_texts else "")
        usage = self._usage(sum(_words(p) for p in prompt_texts), _words(reply))
        cid = f"cmpl-fake{self.fake._next_id()}"

        def obj(choices: list[Json], **more: Any) -> Json:
            return {
                "id": cid,
                "object": "text_completion",
                "created": self.created,
                "model": self.model,
                "choices": choices,
                **more,
            }

        def choice(text: str, finish: str | None) -> Json:
            return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}

        if not self.body.get("stream"):
            payload = obj([choice(reply, "stop")])
            if self.usage_wanted:
                payload["usage"] = usage
            await self.send_json(200, payload)
            return
        events = [_sse(obj([choice(p, None)])) for p in _split_words(reply, self.fake.chunk_words)]
        events.append(_sse(obj([choice("", "stop")])))
        if self._include_usage():
            events.append(_sse(obj([], usage=usage)))
        events.append(_sse("[DONE]"))
        await self.stream(events)

    # ---------------------------------------------------------- OpenAI embeddings

    async def embeddings(self) -> None:
        raw = self.body.get("input", "")
        items = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
        as_b64 = self.body.get("encoding_format") == "base64"
        dims = int(self.body.get("dimensions") or self.fake.embedding_dims)
        data = []
        for i, item in enumerate(items):
            vec = _vector(item, dims)
            emb: Any = (
                base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode() if as_b64 else vec
            )
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(_words(x) if isinstance(x, str) else len(x) for x in items)
        payload: Json = {"object": "list", "data": data, "model": self.model}
        if self.usage_wanted:
            payload["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        await self.send_json(200, payload)

    # ---------------------------------------------------------- Anthropic messages

    async def messages(self) -> None:
        messages = self.body.get("messages") or []
        texts = [_text_of(self.body.get("system"))]
        texts += [_text_of(m.get("content")) for m in messages if isinstance(m, dict)]
        users = [
            _text_of(m.get("content"))
            for m in messages
            if isinstance(m, dict) and m.get("role") == "user"
        ]
        input_tokens = sum(_words(t) for t in texts)
        tool = self.fake.tool_call
        reply = "" if tool else self.reply_text(users[-1] if users else "")
        output_tokens = _words(tool["arguments"]) if tool else _words(reply)
        mid = f"msg_fake{self.fake._next_id()}"
        stop_reason = "tool_use" if tool else "end_turn"
        tool_id = f"toolu_fake{self.fake._next_id()}" if tool else ""

        if not self.body.get("stream"):
            if tool:
                try:
                    args = json.loads(tool["arguments"] or "{}")
                except ValueError:
                    args = {}
                content: list[Json] = [
                    {"type": "tool_use", "id": tool_id, "name": tool["name"], "input": args}
                ]
            else:
                content = [{"type": "text", "text": reply}]
            payload: Json = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
            }
            if self.usage_wanted:
                payload["usage"] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
            await self.send_json(200, payload)
            return

        def ev(kind: str, **data: Any) -> bytes:
            return _sse({"type": kind, **data}, event=kind)

        start_msg: Json = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }
        if self.usage_wanted:
            start_msg["usage"] = {"input_tokens": input_tokens, "output_tokens": 1}
        events = [ev("message_start", message=start_msg)]
        if tool:
            block: Json = {"type": "tool_use", "id": tool_id, "name": tool["name"], "input": {}}
            events.append(ev("content_block_start", index=0, content_block=block))
            for piece in _split_chars(tool["arguments"], self.fake.tool_arg_chunk_chars):
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append(ev("content_block_delta", index=0, delta=delta))
        else:
            block = {"type": "text", "text": ""}
            events.append(ev("content_block_start", index=0, content_block=block))
            for piece in _split_words(reply, self.fake.chunk_words):
                delta = {"type": "text_delta", "text": piece}
                events.append(ev("content_block_delta", index=0, delta=delta))
        events.append(ev("content_block_stop", index=0))
        end: Json = {"delta": {"stop_reason": stop_reason, "stop_sequence": None}}
        if self.usage_wanted:
            end["usage"] = {"output_tokens": output_tokens}
        events.append(ev("message_delta", **end))
        events.append(ev("message_stop"))
        await self.stream(events)


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str | None, str]]:
    """Parse SSE text lines into (event, data) pairs — a small helper for tests."""
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield event, "\n".join(data)
