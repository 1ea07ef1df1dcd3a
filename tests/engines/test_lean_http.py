"""The lean upstream client (plinth.engines.lean_http) against a scripted raw
HTTP server: body framings, keep-alive reuse, bounds, timeouts and failures,
and TLS; and UpstreamClient's mapping of its failures to Plinth's errors."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import shutil
import ssl
import subprocess
import threading
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from plinth.deployment import Deployment
from plinth.engines import lean_http
from plinth.engines.lean_http import BadHttp, ConnectFailed, Disconnected, LeanPool
from plinth.engines.upstream_http import UpstreamClient
from plinth.errors import (
    InvalidRequest,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
)

# One answer per request: the bytes to write, or a callable that writes them itself.
Script = bytes | Callable[[asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Answers each request read on a connection with the next scripted answer."""

    def __init__(self, *answers: Script, tls: ssl.SSLContext | None = None):
        self.answers = list(answers)
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.tls = tls
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append((head, await reader.readexactly(length)))
                answer = self.answers.pop(0)
                if isinstance(answer, bytes):
                    writer.write(answer)
                    await writer.drain()
                else:
                    await answer(writer)
                    if writer.is_closing():
                        return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def ok(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + head.encode()
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


async def post(pool: LeanPool, path: str = "/v1/x", body: bytes = b"{}", wait: float = 5) -> Any:
    loop = asyncio.get_running_loop()
    conn = await pool.post(path, body, None, loop.time() + wait)
    raw = await pool.read_all(conn, loop.time() + wait)
    return conn.status, dict(conn.headers), raw


def test_content_length_keep_alive_reuses_one_connection() -> None:
    async def go() -> None:
        async with RawServer(ok(b'{"a":1}'), ok(b'{"b":2}')) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}/v1/", 5, {"authorization": "Bearer k"})
            assert await post(pool, "/chat") == (
                200,
                {"content-type": "application/json", "content-length": "7"},
                b'{"a":1}',
            )
            assert (await post(pool, "/chat"))[2] == b'{"b":2}'
            assert server.connections == 1
            head, body = server.requests[0]
            assert head.startswith(b"POST /v1/chat HTTP/1.1\r\n")
            assert b"\r\nhost: 127.0.0.1:%d\r\n" % server.port in head
            assert b"\r\nauthorization: Bearer k\r\n" in head and body == b"{}"
            pool.close()

    run(go())


def test_chunked_interim_and_read_to_close_bodies() -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    )

    async def to_close(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    async def go() -> None:
        async with RawServer(chunked, to_close, ok(b"again")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            assert (await post(pool))[::2] == (200, b'{"a":1}')
            assert (await post(pool))[::2] == (200, b"until the end")
            assert (await post(pool))[2] == b"again"  # on a new connection
            assert server.connections == 2
            pool.close()

    run(go())


def test_gzip_body_is_decoded() -> None:
    async def go() -> None:
        async with RawServer(ok(gzip.compress(b'{"z":1}'), "content-encoding: gzip")) as s:
            pool = LeanPool(f"http://127.0.0.1:{s.port}", 5, {})
            assert (await post(pool))[2] == b'{"z":1}'
            pool.close()

    run(go())


def test_failures() -> None:
    async def reset_mid_body(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()
        writer.transport.abort()

    gave_up = asyncio.Event()

    async def silent(writer: asyncio.StreamWriter) -> None:
        # Answers only once the client has given up (or after 10 s, which the
        # client's 0.2 s deadline must not wait for: it would read this answer).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gave_up.wait(), 10)
        writer.write(ok(b"too late"))
        await writer.drain()

    async def go() -> None:
        async with RawServer(reset_mid_body, b"NOT HTTP AT ALL\r\n\r\n", silent) as server:
            port = server.port
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            with pytest.raises(Disconnected):
                await post(pool)
            with pytest.raises(BadHttp):
                await post(pool)
            # The deadline ends the wait before the upstream answers at all.
            with pytest.raises(TimeoutError):
                await post(pool, wait=0.2)
            gave_up.set()
            assert not pool._idle  # nothing half-read goes back to the pool
        closed = LeanPool(f"http://127.0.0.1:{port}", 5, {})
        with pytest.raises(ConnectFailed):
            await post(closed)

    run(go())


def test_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean_http, "MAX_BODY_BYTES", 1000)
    monkeypatch.setattr(lean_http, "MAX_HEAD_BYTES", 500)

    async def go() -> None:
        big_head = ok(b"{}", "x-long: " + "a" * 600)
        endless_head = b"HTTP/1.1 200 OK\r\nx-long: " + b"a" * 600
        answers = (ok(b"a" * 1001), big_head, endless_head, ok(b"b" * 1000))
        async with RawServer(*answers) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            with pytest.raises(BadHttp, match="body is over 1000"):
                await post(pool)
            with pytest.raises(BadHttp, match="head is over 500"):
                await post(pool)
            with pytest.raises(BadHttp, match="head is over 500"):
                await post(pool)
            assert len((await post(pool))[2]) == 1000
            pool.close()

    run(go())


def test_streamed_reads_and_back_pressure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean_http, "STREAM_HIGH_WATER", 10)

    async def drip(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"first", b"second part", b"third"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def go() -> None:
        async with RawServer(drip, ok(b"next")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            loop = asyncio.get_running_loop()
            conn = await pool.post("/s", b"{}", None, loop.time() + 5, stream=True)
            got = []
            while data := await pool.read_some(conn, loop.time() + 5):
                got.append(data)
            assert b"".join(got) == b"firstsecond partthird" and len(got) >= 2
            pool.release(conn)
            assert (await post(pool))[2] == b"next" and server.connections == 1
            pool.close()

    run(go())


def test_header_values_cannot_split_the_request() -> None:
    with pytest.raises(ValueError):
        LeanPool("http://127.0.0.1:1", 5, {"x-key": "a\r\nx-evil: 1"})
    with pytest.raises(ValueError):
        LeanPool("ftp://127.0.0.1:1", 5, {})
    assert not lean_http.writable({"x-a: b": "c"}) and not lean_http.writable({"x": "снег"})
    assert lean_http.writable({"x-api-key": "k", "anthropic-version": "2023-06-01"})
    # The Host header: the port only when not the scheme's own; IPv6 in brackets.
    assert b"host: [::1]\r\n" in LeanPool("https://[::1]/v1", 5, {})._head_fields
    assert b"host: [::1]:8080\r\n" in LeanPool("http://[::1]:8080", 5, {})._head_fields
    assert (
        b"host: api.example.com\r\n" in LeanPool("https://api.example.com:443", 5, {})._head_fields
    )


def _tls_contexts(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    if shutil.which("openssl") is None:
        return None
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_tls_checks_the_certificate(tmp_path: Path) -> None:
    contexts = _tls_contexts(tmp_path)
    if contexts is None:
        pytest.skip("no openssl to make a certificate")
    server_ctx, trusting = contexts

    async def go() -> None:
        async with RawServer(ok(b'{"tls":1}'), tls=server_ctx) as server:
            untrusting = LeanPool(f"https://localhost:{server.port}", 5, {})
            with pytest.raises(ConnectFailed):  # self-signed: not in the system's store
                await post(untrusting)
            pool = LeanPool(f"https://localhost:{server.port}", 5, {})
            pool.ssl = trusting
            assert (await post(pool))[2] == b'{"tls":1}'
            pool.close()

    run(go())


def deployment(port: int, **timeouts: float) -> Deployment:
    return Deployment(
        model="m", engine="openai", base_url=f"http://127.0.0.1:{port}/v1", **timeouts
    )


def test_upstream_client_maps_lean_failures() -> None:
    async def hang_up(writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    async def slow(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3)

    error = json.dumps({"error": {"message": "slow down"}}).encode()
    answers: list[Script] = [
        b"HTTP/1.1 429 Too Many\r\nretry-after: 2\r\ncontent-length: %d\r\n\r\n%s"
        % (len(error), error),
        b"HTTP/1.1 400 Bad\r\ncontent-length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nhi",
        ok(b"[1]"),
        hang_up,
        slow,
    ]

    async def go() -> None:
        async with RawServer(*answers) as server:
            port = server.port
            client = UpstreamClient(deployment(server.port, first_token_timeout_s=0.3), {})
            with pytest.raises(UpstreamRateLimited) as limited:
                await client.post_json("/chat/completions", {})
            assert limited.value.retry_after_s == 2
            with pytest.raises(InvalidRequest):
                await client.post_json("/chat/completions", {})
            with pytest.raises(UpstreamBadResponse, match="content type 'text/html'"):
                await client.post_json("/chat/completions", {})
            with pytest.raises(UpstreamBadResponse, match="not an object"):
                await client.post_json("/chat/completions", {})
            with pytest.raises(UpstreamUnreachable, match="closed the connection"):
                await client.post_json("/chat/completions", {})
            with pytest.raises(UpstreamTimeout):
                await client.post_json("/chat/completions", {})
            await client.close()
        refused = UpstreamClient(deployment(port), {})
        with pytest.raises(UpstreamUnreachable, match="Cannot connect"):
            await refused.post_json("/chat/completions", {})
        await refused.close()

    run(go())


def test_cancelled_request_closes_its_connection() -> None:
    async def slow(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(2)

    async def go() -> None:
        async with RawServer(slow, ok(b"{}")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            task = asyncio.ensure_future(post(pool))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not pool._idle
            pool.close()

    run(go())


def test_a_kept_connection_the_upstream_closed_is_not_reused() -> None:
    async def answer_then_close(writer: asyncio.StreamWriter) -> None:
        writer.write(ok(b"one"))
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # the upstream's keep-alive timeout, while the pool holds it

    async def go() -> None:
        async with RawServer(answer_then_close, ok(b"two")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            assert (await post(pool))[2] == b"one"
            await asyncio.sleep(0.2)
            assert (await post(pool))[2] == b"two"
            assert server.connections == 2
            pool.close()

    run(go())


def sse_answer(*events: bytes, content_type: str = "text/event-stream") -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events)
    return (
        f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n"
        "transfer-encoding: chunked\r\n\r\n".encode()
        + chunks
        + b"0\r\n\r\n"
    )


def test_upstream_client_streams_events_through_the_lean_client() -> None:
    async def dripping(writer: asyncio.StreamWriter) -> None:
        whole = sse_answer(b"data: 1\n\n", b"data: 2\n\n")
        cut = whole.index(b"data: 2") - 4
        writer.write(whole[:cut])
        await writer.drain()
        await asyncio.sleep(1)
        writer.write(whole[cut:])

    answers: list[Script] = [
        sse_answer(b'data: {"a":1}\n\n', b'data: {"b"', b":2}\n\ndata: [DONE]\n\n"),
        sse_answer(b"data: 1\n\n"),  # reused connection
        b"HTTP/1.1 503 Busy\r\ncontent-length: 2\r\n\r\n{}",
        sse_answer(b"{}", content_type="application/json"),
        dripping,  # left after one event
    ]

    async def go() -> None:
        async with RawServer(*answers) as server:
            client = UpstreamClient(deployment(server.port), {})
            got = [data async for _e, data, _m in client.post_sse_bytes("/chat/completions", {})]
            assert got == [b'{"a":1}', b'{"b":2}', b"[DONE]"]
            got = [data async for _e, data, _m in client.post_sse_bytes("/chat/completions", {})]
            assert got == [b"1"] and server.connections == 1
            with pytest.raises(UpstreamError, match="failed \\(503\\)"):
                async for _ in client.post_sse_bytes("/chat/completions", {}):
                    pass
            with pytest.raises(UpstreamBadResponse, match="not text/event-stream"):
                async for _ in client.post_sse_bytes("/chat/completions", {}):
                    pass
            events = client.post_sse_bytes("/chat/completions", {})
            assert (await anext(events))[1] == b"1"
            await events.aclose()  # the client went away mid-stream: not reused
            assert client._lean is not None and not client._lean._idle
            await client.close()

    run(go())


def test_a_connection_in_use_when_its_pool_closes_is_not_kept() -> None:
    async def slow(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.2)
        writer.write(ok(b"late"))
        await writer.drain()

    async def go() -> None:
        async with RawServer(slow, ok(b"again")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            task = asyncio.ensure_future(post(pool))
            await asyncio.sleep(0.05)
            pool.close()  # the engine is closed while a request is in flight
            assert (await task)[2] == b"late" and not pool._idle
            assert (await post(pool))[2] == b"again"  # used again: it opens anew
            assert server.connections == 2 and len(pool._idle) == 1
            pool.close()

    run(go())


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("2", 2.0), ("inf", 3600.0), ("1e400", 3600.0), ("-5", 0.0), ("nan", None), ("soon", None)],
)
def test_retry_after_is_bounded_like_errors_bound_it(header: str, seconds: float | None) -> None:
    from plinth.engines.upstream_http import _retry_after, upstream_status_error

    class Answer:
        def __init__(self) -> None:
            self.status = 429
            self.headers = {"retry-after": header}

    # The parsed value itself, not only the error built from it: NaN was 0 (retry at once).
    assert _retry_after(Answer()) == seconds
    error = upstream_status_error(Answer(), b"{}", "deployment 'd'")
    assert isinstance(error, UpstreamRateLimited) and error.retry_after_s == seconds


def test_a_connect_timeout_is_a_timeout_as_with_aiohttp() -> None:
    """aiohttp's connect timeout (ConnectionTimeoutError) is UpstreamTimeout, 504; the
    lean client's deadline was caught as an OSError: 'Cannot connect', 502."""

    async def never_connects(*_: object, **__: object) -> None:
        await asyncio.Event().wait()

    async def go() -> None:
        asyncio.get_running_loop().create_connection = never_connects  # type: ignore[method-assign,assignment]
        pool = LeanPool("http://127.0.0.1:9", 0.1, {})
        with pytest.raises(TimeoutError):
            await post(pool)
        client = UpstreamClient(deployment(9, connect_timeout_s=0.1), {})
        assert client._lean is not None
        with pytest.raises(UpstreamTimeout) as timed_out:
            await client.post_json("/chat/completions", {})
        assert timed_out.value.status_code == 504
        await client.close()

    run(go())


def test_bytes_after_a_whole_answer_change_nothing_and_close_the_connection() -> None:
    second = b"HTTP/1.1 500 Oops\r\ncontent-length: 5\r\n\r\nextra"

    async def go() -> None:
        # The unasked second answer in the same write as the first, then after it.
        async with RawServer(ok(b"{}") + second, ok(b"{}"), ok(b"again")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            status, headers, body = await post(pool)
            assert (status, headers["content-type"], body) == (200, "application/json", b"{}")
            assert not pool._idle  # never pooled
            assert (await post(pool))[::2] == (200, b"{}")  # on a new connection
            assert server.connections == 2
            pool.close()

    run(go())


def test_streamed_answer_followed_by_bytes_is_not_pooled() -> None:
    async def go() -> None:
        answer = sse_answer(b"data: 1\n\n") + b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx"
        async with RawServer(answer, ok(b"again")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            loop = asyncio.get_running_loop()
            conn = await pool.post("/s", b"{}", None, loop.time() + 5, stream=True)
            got = []
            while data := await pool.read_some(conn, loop.time() + 5):
                got.append(data)
            assert b"".join(got) == b"data: 1\n\n" and conn.status == 200
            pool.release(conn)
            assert not pool._idle
            assert (await post(pool))[2] == b"again" and server.connections == 2
            pool.close()

    run(go())


async def _until(condition: Callable[[], bool], limit_s: float = 10) -> None:
    """Wait (polling) until ``condition`` holds; fail if it never does."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + limit_s
    while not condition():
        assert loop.time() < give_up, "the condition never held"
        await asyncio.sleep(0.01)


def test_expired_idle_connections_are_closed_without_another_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lean_http, "KEEP_IDLE_S", 0.2)

    async def go() -> None:
        async with RawServer(ok(b"1"), ok(b"2")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            loop = asyncio.get_running_loop()
            # Two exchanges at once: two connections, both kept when done.
            conns = [await pool.post("/x", b"{}", None, loop.time() + 5) for _ in range(2)]
            for conn in conns:
                await pool.read_all(conn, loop.time() + 5)
            assert len(pool._idle) == 2 and server.connections == 2
            await _until(lambda: not pool._idle)  # no request came: the sweep closed them
            assert all(conn.closed for conn in conns)
            assert pool._sweep is None  # and no timer left while nothing is idle
            pool.close()

    run(go())


def test_the_idle_pool_is_bounded_and_expired_ones_go_at_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lean_http, "MAX_IDLE", 1)

    async def go() -> None:
        async with RawServer(ok(b"1"), ok(b"2"), ok(b"3")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            loop = asyncio.get_running_loop()
            first, second = [await pool.post("/x", b"{}", None, loop.time() + 5) for _ in range(2)]
            await pool.read_all(first, loop.time() + 5)
            await pool.read_all(second, loop.time() + 5)
            assert list(pool._idle) == [second] and first.closed  # the older one made room
            # Expired by checkout (the sweep's timer is not what closes it here).
            monkeypatch.setattr(lean_http, "KEEP_IDLE_S", 0.0)
            assert pool._idle_connection() is None and second.closed
            pool.close()

    run(go())


class _SpyZlib:
    """zlib as lean_http uses it, recording each decompress call's thread and limit."""

    error = zlib.error
    MAX_WBITS = zlib.MAX_WBITS

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []  # (thread, max_length, bytes out)

    def decompressobj(self, wbits: int) -> Any:
        spy, real = self, zlib.decompressobj(wbits)

        class Decoder:
            def decompress(self, data: bytes, max_length: int = 0) -> bytes:
                out = real.decompress(data, max_length)
                spy.calls.append((threading.get_ident(), max_length, len(out)))
                return out

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        return Decoder()


def test_a_large_compressed_body_is_inflated_in_bounded_steps_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = _SpyZlib()
    monkeypatch.setattr(lean_http, "zlib", spy)
    whole = json.dumps({"data": [[i * 0.5 for i in range(64)]] * 4000}).encode()  # ~1.3 MB

    async def go() -> None:
        async with RawServer(ok(gzip.compress(whole), "content-encoding: gzip")) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            assert (await post(pool))[2] == whole
            pool.close()

    run(go())
    loop_thread = threading.get_ident()
    assert all(0 < limit <= lean_http.INFLATE_STEP for _, limit, _ in spy.calls)
    on_loop = sum(out for thread, _, out in spy.calls if thread == loop_thread)
    assert on_loop <= lean_http.INFLATE_ON_LOOP + lean_http.INFLATE_STEP
    assert any(thread != loop_thread for thread, _, _ in spy.calls)


def test_a_body_over_the_bound_once_decompressed_is_a_bad_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lean_http, "MAX_BODY_BYTES", 100_000)
    bomb = gzip.compress(b"0" * 1_000_000)  # ~1 kB that inflates to 1 MB

    async def go() -> None:
        async with RawServer(
            ok(bomb, "content-encoding: gzip"), ok(bomb, "content-encoding: gzip")
        ) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            with pytest.raises(BadHttp, match="over 100000 bytes, decompressed"):
                await post(pool)
            pool.close()
            client = UpstreamClient(deployment(server.port), {})
            with pytest.raises(UpstreamBadResponse, match="decompressed") as refused:
                await client.post_json("/chat/completions", {})
            assert refused.value.status_code == 502
            await client.close()

    run(go())


def test_deflate_bodies_with_and_without_zlibs_header() -> None:
    body = b'{"deflated":true}'
    bare = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    answers = (
        ok(zlib.compress(body), "content-encoding: deflate"),
        ok(bare.compress(body) + bare.flush(), "content-encoding: deflate"),
        ok(b"not compressed at all", "content-encoding: deflate"),
    )

    async def go() -> None:
        async with RawServer(*answers) as server:
            pool = LeanPool(f"http://127.0.0.1:{server.port}", 5, {})
            assert (await post(pool))[2] == body
            assert (await post(pool))[2] == body
            with pytest.raises(BadHttp, match="does not decompress"):
                await post(pool)
            pool.close()

    run(go())
