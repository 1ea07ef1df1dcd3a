"""A server-sent event stream sent straight to the ASGI server, without a watcher task.

Starlette's ``StreamingResponse`` (ASGI spec 2.3, as uvicorn declares) runs
every stream in an anyio task group: a second task waits for the client to
hang up and then cancels the stream through a cancel scope. The task, the
group and the scope's bookkeeping on each await were about a tenth of the
CPU of a proxied stream (``benchmarks/gateway_overhead.py``, profile).

Under ``plinth serve`` the protocol offers the ``plinth.on_disconnect``
scope extension (:mod:`plinth.server.protocol`): it calls back when the
connection is lost before the response is complete. :class:`EventStream`
registers a callback that cancels the task sending the stream, the same
effect as Starlette's cancel scope: the frames' iterator is closed at the
await it was in, and the request is booked as disconnected by the gateway.
Under another server (or a test transport) without the extension it falls
back to ``StreamingResponse``.

The stream's end (``data: [DONE]`` and the chunked encoding's last chunk)
leaves in one write. While the frames are produced, :data:`~plinth.server.direct_body.DIRECT_BODY`
offers their producer the ``plinth.direct_body`` extension (a local model's
stream is then written by the thread its tokens arrive on).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.responses import Response, StreamingResponse

from plinth.server.direct_body import DIRECT_BODY, DIRECT_BODY_EXTENSION
from plinth.server.protocol import ON_DISCONNECT

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The stream's last frame. A frames iterator that yields this very object
#: (``is``, not ``==``) ends the stream with it: it leaves with the chunked
#: encoding's last chunk, in one write.
DONE = b"data: [DONE]\n\n"


class EventStream(Response):
    """``text/event-stream`` from ``frames``, server-sent events as bytes.

    A Starlette ``Response`` to its callers (a route may return it), built
    without a body.
    """

    def __init__(self, frames: AsyncIterator[bytes], headers: Mapping[str, str]):
        self.frames = frames
        self.stream_headers = headers
        self.status_code = 200
        self.background = None
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8")] + [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = scope.get("extensions", {}).get(ON_DISCONNECT)
        if watch is None:  # not under plinth serve: Starlette's watcher task instead
            fallback = StreamingResponse(
                self.frames, headers=self.stream_headers, media_type="text/event-stream"
            )
            await fallback(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        hung_up = False

        def lost() -> None:
            nonlocal hung_up
            hung_up = True
            task.cancel()

        unwatch = watch(lost)
        # The frames' producer may write the body's middle from another thread.
        direct = DIRECT_BODY.set(scope["extensions"].get(DIRECT_BODY_EXTENSION))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            end = b""
            async for frame in self.frames:
                if frame is DONE:
                    end = frame
                else:
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": end, "more_body": False})
        except asyncio.CancelledError:
            if not hung_up:
                raise
            task.uncancel()  # ours, for the hang-up: the stream is over, nobody to tell
        finally:
            DIRECT_BODY.reset(direct)
            unwatch()
            await self.frames.aclose()  # type: ignore[attr-defined]
