"""A fake upstream for the pass-through endpoints: a real HTTP server on 127.0.0.1.

It serves Cohere/Jina-shaped ``/v1/rerank``, OpenAI's ``/v1/audio/*`` (the
uploads read as real multipart), ``/v1/images/generations`` and
``/v1/moderations``, records what it received (JSON bodies, form fields and
file bytes, headers), and answers the next request with a queued status when
a test pushed one.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]
# Not a real MP3: bytes that are not UTF-8, to show they come back untouched.
SPEECH_BYTES = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00" + bytes(range(256)) * 64


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    json: Json | None = None
    fields: dict[str, str] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # every text field, repeats too
    file: bytes | None = None
    filename: str | None = None


@dataclass
class PassthroughUpstream:
    audio_seconds: float = 7.2  # what a transcription reports
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._statuses: deque[int] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, *statuses: int) -> None:
        self._statuses.extend(statuses)

    def __enter__(self) -> PassthroughUpstream:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_post("/v1/rerank", self._rerank)
            app.router.add_post("/rerank", self._tei_rerank)  # text-embeddings-inference
            app.router.add_get("/health", self._health)
            app.router.add_post("/v1/audio/transcriptions", self._transcribe)
            app.router.add_post("/v1/audio/translations", self._transcribe)
            app.router.add_post("/v1/audio/speech", self._speech)
            app.router.add_post("/v1/images/generations", self._images)
            app.router.add_post("/v1/moderations", self._moderations)
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="passthrough-fake", daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    # --- handlers -----------------------------------------------------------------

    def _headers(self, request: web.Request) -> dict[str, str]:
        return {k.lower(): v for k, v in request.headers.items()}

    def _injected(self) -> web.Response | None:
        if not self._statuses:
            return None
        status = self._statuses.popleft()
        error = {"error": {"message": f"injected {status}", "type": "fake", "code": None}}
        return web.json_response(error, status=status)

    async def _json(self, request: web.Request) -> Json:
        body: Json = await request.json()
        self.seen.append(Seen(request.path, self._headers(request), json=body))
        return body

    async def _rerank(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if (injected := self._injected()) is not None:
            return injected
        docs = body["documents"]
        # Longer documents rank higher: deterministic and easy to assert.
        order = sorted(range(len(docs)), key=lambda i: -len(str(docs[i])))
        results: list[Json] = [
            {"index": i, "relevance_score": round(1 / (rank + 1), 3)}
            for rank, i in enumerate(order[: body.get("top_n") or len(docs)])
        ]
        if body.get("return_documents"):
            for result in results:
                result["document"] = {"text": docs[result["index"]]}
        answer = {"id": "rr-1", "model": body["model"], "results": results}
        return web.json_response(answer | {"usage": {"total_tokens": 12}})

    async def _tei_rerank(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if (injected := self._injected()) is not None:
            return injected
        texts = body["texts"]
        ranked = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        answer: list[Json] = [
            {"index": i, "score": 0.9 - 0.1 * rank} for rank, i in enumerate(ranked)
        ]
        if body.get("return_text"):
            for item in answer:
                item["text"] = texts[item["index"]]
        return web.json_response(list(reversed(answer)))  # any order: Plinth sorts

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _transcribe(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        pairs = [(k, v) for k, v in form.items() if isinstance(v, str)]
        seen = Seen(request.path, self._headers(request), fields=dict(pairs), pairs=pairs)
        if isinstance(upload, web.FileField):
            seen.file, seen.filename = upload.file.read(), upload.filename
        self.seen.append(seen)
        if (injected := self._injected()) is not None:
            return injected
        if seen.fields.get("response_format") == "text":
            return web.Response(text="hello from audio\n", content_type="text/plain")
        text = "hello from audio"
        usage = {"type": "duration", "seconds": self.audio_seconds}
        return web.json_response({"text": text, "usage": usage})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        await self._json(request)
        if (injected := self._injected()) is not None:
            return injected
        response = web.StreamResponse(headers={"content-type": "audio/mpeg"})
        await response.prepare(request)
        for start in range(0, len(SPEECH_BYTES), 4096):  # in several chunks, as a stream
            await response.write(SPEECH_BYTES[start : start + 4096])
        await response.write_eof()
        return response

    async def _images(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if (injected := self._injected()) is not None:
            return injected
        data = [{"b64_json": "iVBORw0KGgo=", "revised_prompt": body["prompt"]}] * body.get("n", 1)
        return web.json_response({"created": 1, "data": data})

    async def _moderations(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if (injected := self._injected()) is not None:
            return injected
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        results = [{"flagged": False, "categories": {}, "category_scores": {}} for _ in inputs]
        return web.json_response({"id": "modr-1", "model": body["model"], "results": results})
