"""The request pipeline: resolve the model, call its engine, account for usage.

Every request, whatever way it ends, produces exactly one ledger row and one
set of metric observations, written by :class:`Accounting` when it closes.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from plinth.auth import Principal
from plinth.engines.base import Json
from plinth.engines.pool import EnginePool
from plinth.errors import UnsupportedParameter, error_body
from plinth.metering.recorder import UsageRecorder
from plinth.metrics import Metrics
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import EmbeddingRequest
from plinth.store.usage import UsageRecord

GenerationRequest = ChatCompletionRequest | CompletionRequest


@dataclass
class Accounting:
    """What one request used and how it ended; ``close`` books it once."""

    request_id: str
    endpoint: str
    model: str
    principal: Principal | None
    stream: bool = False
    started: float = field(default_factory=time.perf_counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    ttft_s: float | None = None
    closed: bool = False

    def first_token(self, decode_s: float = 0.0) -> None:
        """Mark the first output; a whole (non-streamed) answer passes its decode time."""
        if self.ttft_s is None:
            self.ttft_s = max(0.0, time.perf_counter() - self.started - decode_s)

    def take_usage(self, usage: Json | None) -> None:
        if usage:
            self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            self.completion_tokens = int(usage.get("completion_tokens") or 0)

    def take_timings(self, timings: Json | None) -> None:
        """llama.cpp's per-chunk counters: the usage of a stream cut short."""
        if timings:
            self.prompt_tokens = int(timings.get("prompt_n", 0)) + int(timings.get("cache_n", 0))
            self.completion_tokens = int(timings.get("predicted_n", 0))

    def close(
        self,
        recorder: UsageRecorder,
        metrics: Metrics,
        status: str,
        exc: BaseException | None = None,
        *,
        model_label: str,
    ) -> None:
        if self.closed:
            return
        self.closed = True
        latency = time.perf_counter() - self.started
        http_status, error_code = 200, None
        if exc is not None:
            http_status, body = error_body(exc)
            error_code = body["error"]["code"]
        recorder.record(
            UsageRecord(
                request_id=self.request_id,
                created_at=datetime.now(UTC),
                key_id=self.principal.key_id if self.principal else None,
                endpoint=self.endpoint,
                model=self.model[:200] or None,
                status=status,
                http_status=http_status,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                latency_ms=round(latency * 1000, 3),
                ttft_ms=round(self.ttft_s * 1000, 3) if self.ttft_s is not None else None,
                finish_reason=self.finish_reason,
                error_code=error_code,
                stream=self.stream,
            )
        )
        metrics.requests.labels(self.endpoint, model_label, status).inc()
        metrics.latency.labels(self.endpoint, model_label, status).observe(latency)
        if self.ttft_s is not None:
            metrics.ttft.labels(self.endpoint, model_label).observe(self.ttft_s)
        metrics.tokens.labels(model_label, "prompt").inc(self.prompt_tokens)
        metrics.tokens.labels(model_label, "completion").inc(self.completion_tokens)


def _has_output(chunk: Json) -> bool:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or choice.get("text"):
            return True
    return False


class Gateway:
    def __init__(self, engines: EnginePool, recorder: UsageRecorder, metrics: Metrics):
        self.engines = engines
        self.recorder = recorder
        self.metrics = metrics

    def open(
        self, request_id: str, endpoint: str, model: str, principal: Principal | None
    ) -> Accounting:
        return Accounting(request_id, endpoint, model, principal)

    def _label(self, model: str) -> str:
        # Metric labels only name served models: arbitrary client strings would
        # grow the series without bound.
        return model if self.engines.has(model) else "unknown"

    def _finish(self, acct: Accounting, status: str, exc: BaseException | None = None) -> None:
        acct.close(self.recorder, self.metrics, status, exc, model_label=self._label(acct.model))

    async def generate(self, acct: Accounting, request: GenerationRequest) -> Json:
        """A non-streaming chat or text completion."""
        in_flight = self.metrics.in_flight.labels(acct.endpoint, self._label(acct.model))
        in_flight.inc()
        try:
            engine = self.engines.get(request.model)
            body = request.engine_body()
            is_chat = isinstance(request, ChatCompletionRequest)
            result = await (engine.chat(body) if is_chat else engine.complete(body))
            acct.first_token(decode_s=_decode_seconds(result.pop("timings", None)))
            acct.take_usage(result.get("usage"))
            choices = result.get("choices") or [{}]
            acct.finish_reason = choices[0].get("finish_reason")
            result["id"] = ("chatcmpl-" if is_chat else "cmpl-") + acct.request_id
            result["model"] = request.model
            result["usage"] = _usage(acct, result.get("usage"))
        except BaseException as exc:
            self._finish(
                acct, "error" if isinstance(exc, Exception) else "client_disconnected", exc
            )
            raise
        finally:
            in_flight.dec()
        self._finish(acct, "ok")
        return result

    async def generate_stream(
        self, acct: Accounting, request: GenerationRequest
    ) -> AsyncIterator[Json]:
        """Chunks for the client; the usage chunk only if it asked for it."""
        acct.stream = True
        is_chat = isinstance(request, ChatCompletionRequest)
        id_prefix = "chatcmpl-" if is_chat else "cmpl-"
        in_flight = self.metrics.in_flight.labels(acct.endpoint, self._label(acct.model))
        in_flight.inc()
        chunks: AsyncIterator[Json] | None = None
        status, error = "client_disconnected", None
        try:
            engine = self.engines.get(request.model)
            body = request.engine_body()
            chunks = engine.chat_stream(body) if is_chat else engine.complete_stream(body)
            async for chunk in chunks:
                acct.take_timings(chunk.pop("timings", None))
                chunk["id"] = id_prefix + acct.request_id
                chunk["model"] = request.model
                usage = chunk.pop("usage", None)
                if usage:
                    acct.take_usage(usage)
                if chunk.get("choices"):
                    for choice in chunk["choices"]:
                        acct.finish_reason = choice.get("finish_reason") or acct.finish_reason
                    if _has_output(chunk):
                        acct.first_token()
                    yield chunk
                if usage and request.include_usage:
                    # Its own last chunk with no choices, as OpenAI sends it, even
                    # where an engine put the finish reason and usage in one.
                    yield {**chunk, "choices": [], "usage": _usage(acct, usage)}
            status = "ok"
        except Exception as exc:
            status, error = "error", exc
            raise
        finally:
            in_flight.dec()
            if chunks is not None:
                await chunks.aclose()  # type: ignore[attr-defined]
            self._finish(acct, status, error)

    def fail(self, acct: Accounting, exc: BaseException, *, status: str = "error") -> None:
        """Book a request that failed before reaching the gateway (e.g. a bad body)."""
        self._finish(acct, status, exc)

    async def embed(self, acct: Accounting, request: EmbeddingRequest) -> Json:
        try:
            engine = self.engines.get(request.model)
            result = await engine.embed(request.input_list())
            dims = len(result.vectors[0]) if result.vectors else 0
            if request.dimensions is not None and request.dimensions != dims:
                raise UnsupportedParameter(
                    f"Model '{request.model}' returns {dims} dimensions; "
                    "it cannot shorten its vectors",
                    param="dimensions",
                )
            acct.prompt_tokens = result.prompt_tokens
            acct.first_token()
        except BaseException as exc:
            self._finish(
                acct, "error" if isinstance(exc, Exception) else "client_disconnected", exc
            )
            raise
        self._finish(acct, "ok")
        encode = _base64_vector if request.encoding_format == "base64" else list
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode(vector)}
                for i, vector in enumerate(result.vectors)
            ],
            "model": request.model,
            "usage": {"prompt_tokens": acct.prompt_tokens, "total_tokens": acct.prompt_tokens},
        }


def _usage(acct: Accounting, reported: Json | None = None) -> Json:
    usage: Json = {
        "prompt_tokens": acct.prompt_tokens,
        "completion_tokens": acct.completion_tokens,
        "total_tokens": acct.prompt_tokens + acct.completion_tokens,
    }
    if reported and reported.get("prompt_tokens_details"):
        usage["prompt_tokens_details"] = reported["prompt_tokens_details"]  # cached tokens
    return usage


def _decode_seconds(timings: Json | None) -> float:
    """Time spent generating after the first token, from llama.cpp's timings."""
    if not timings:
        return 0.0
    total_ms = float(timings.get("predicted_ms") or 0.0)
    per_token_ms = float(timings.get("predicted_per_token_ms") or 0.0)
    return max(0.0, total_ms - per_token_ms) / 1000


def _base64_vector(vector: list[float]) -> Any:
    # OpenAI's base64 format: little-endian float32, which the SDK decodes with numpy.
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
