"""Any OpenAI-compatible upstream: hosted APIs, vLLM, llama-server, Ollama,
another Plinth.

A thin pass-through: the body goes on with the upstream's model name, streams
always ask for usage (the gateway strips it if the client did not), and every
failure becomes one of Plinth's errors so the router can decide on a retry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import numpy as np

from plinth.deployment import Deployment
from plinth.engines.base import EmbeddingResult, Engine, Inbound, Json, Outbound
from plinth.engines.rerank_tei import cohere_answer, tei_request
from plinth.engines.upstream_http import RawChunk, UpstreamClient
from plinth.errors import UpstreamBadResponse, UpstreamError


def auth_headers(deployment: Deployment) -> dict[str, str]:
    key = deployment.api_key()
    if not key or deployment.auth == "none":
        return {}
    if deployment.auth == "api-key":  # Azure OpenAI
        return {"api-key": key}
    if deployment.auth == "x-api-key":
        return {"x-api-key": key}
    return {"authorization": f"Bearer {key}"}


class OpenAICompatEngine(Engine):
    def __init__(self, deployment: Deployment):
        super().__init__(deployment.model, deployment.kind)
        self.deployment = deployment
        self.client = UpstreamClient(deployment, auth_headers(deployment))

    async def start(self) -> None:
        """Connections open lazily, on the first request."""

    async def close(self) -> None:
        await self.client.close()

    def _body(self, body: Json, *, stream: bool) -> Json:
        out = {**body, "model": self.deployment.target_model}
        if stream:
            out["stream"] = True
            out["stream_options"] = {"include_usage": True}
        else:
            out.pop("stream", None)
            out.pop("stream_options", None)
        return out

    async def _whole(self, path: str, body: Json) -> Json:
        result = await self.client.post_json(path, self._body(body, stream=False))
        if "error" in result:
            raise UpstreamError(f"Upstream deployment '{self.deployment.id}': {result['error']}")
        if not isinstance(result.get("choices"), list):
            raise UpstreamBadResponse(
                f"Upstream deployment '{self.deployment.id}' sent a response without choices"
            )
        return result

    async def _chunks(self, path: str, body: Json) -> AsyncIterator[Json]:
        async for chunk in self._raw_chunks(path, body):
            yield chunk.json

    async def _raw_chunks(self, path: str, body: Json) -> AsyncIterator[RawChunk]:
        """The stream's chunks as the upstream's bytes: only an error is decoded here."""
        where = f"deployment '{self.deployment.id}'"
        events = self.client.post_sse_bytes(path, self._body(body, stream=True))
        try:
            async for _event, data, more in events:
                if data == b"[DONE]":
                    return
                chunk = RawChunk(data, where, more=more)
                if b'"error"' in data and "error" in chunk.json:
                    message = chunk.json["error"]
                    if isinstance(message, dict):
                        message = message.get("message")
                    raise UpstreamError(f"Upstream {where} failed mid-stream: {message}")
                yield chunk
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    def stream_raw(self, body: Json, *, is_chat: bool) -> AsyncIterator[RawChunk]:
        """A chat or text completion stream as :class:`RawChunk` s, for the proxy's
        byte-level path (``plinth.streaming``)."""
        return self._raw_chunks("/chat/completions" if is_chat else "/completions", body)

    async def chat(self, body: Json) -> Json:
        return await self._whole("/chat/completions", body)

    def chat_stream(self, body: Json) -> AsyncIterator[Json]:
        return self._chunks("/chat/completions", body)

    async def complete(self, body: Json) -> Json:
        return await self._whole("/completions", body)

    def complete_stream(self, body: Json) -> AsyncIterator[Json]:
        return self._chunks("/completions", body)

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        body = {"model": self.deployment.target_model, "input": inputs}
        result = await self.client.post_json("/embeddings", {**body, "encoding_format": "float"})
        try:
            data = sorted(result["data"], key=lambda item: item["index"])
            vectors = [_vector(item["embedding"]) for item in data]
        except (KeyError, TypeError, ValueError):
            raise UpstreamBadResponse(
                f"Upstream deployment '{self.deployment.id}' sent an unreadable embeddings answer"
            ) from None
        usage = result.get("usage") or {}
        return EmbeddingResult(vectors=vectors, prompt_tokens=int(usage.get("prompt_tokens") or 0))

    async def forward(self, outbound: Outbound) -> Inbound:
        """The pass-through body under the upstream's model name, to the same path."""
        target = self.deployment.target_model
        if outbound.path == "/rerank" and self.deployment.rerank_format == "tei":
            return await self._tei_rerank(outbound.json or {})
        if outbound.json is not None:
            body = json.dumps({**outbound.json, "model": target}, ensure_ascii=False)
            return await self.client.post_raw(outbound.path, body.encode())
        writer = aiohttp.MultipartWriter("form-data")
        for part in outbound.form:
            value = target if part.name == "model" else part.value
            payload = writer.append(value, {"content-type": part.content_type or "text/plain"})
            if part.filename:
                payload.set_content_disposition("form-data", name=part.name, filename=part.filename)
            else:
                payload.set_content_disposition("form-data", name=part.name)
        return await self.client.post_raw(outbound.path, writer)

    async def _tei_rerank(self, body: Json) -> Inbound:
        """A Cohere-shaped rerank through TEI's ``/rerank``, answered in Cohere's shape."""
        inbound = await self.client.post_raw("/rerank", json.dumps(tei_request(body)).encode())
        raw = bytearray()
        try:
            async for chunk in inbound.chunks:
                raw += chunk
                if len(raw) > _MAX_RERANK_ANSWER:
                    raise UpstreamBadResponse(
                        f"Upstream deployment '{self.deployment.id}' sent a rerank answer over"
                        f" {_MAX_RERANK_ANSWER} bytes"
                    )
        finally:
            inbound.close()
        where = f"deployment '{self.deployment.id}'"
        answer = cohere_answer(bytes(raw), body, self.deployment.target_model, where)
        return Inbound("application/json", _once(json.dumps(answer).encode()), lambda: None)

    async def health(self) -> None:
        path = (
            "/health" if self.deployment.rerank_format == "tei" else "/models"
        )  # TEI has no /models
        await self.client.get_ok(path, timeout_s=min(5.0, self.deployment.total_timeout_s))

    def describe(self) -> Json:
        return {"kind": self.kind, "engine": "openai", "deployment": self.deployment.id}


_MAX_RERANK_ANSWER = 16 * 1024 * 1024


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _vector(value: list[float] | str) -> list[float]:
    if isinstance(value, str):  # some servers answer base64 whatever was asked
        return np.frombuffer(base64.b64decode(value), dtype="<f4").tolist()  # type: ignore[no-any-return]
    return [float(x) for x in value]
