"""One streamed chat request, timed like a client sees it (TTFT, ITL, end to end)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp


@dataclass
class RequestRecord:
    candidate: str
    workload: str
    profile: str
    item_id: str
    started_at: float  # seconds since the run's start
    ttft_s: float | None = None
    e2e_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    score: float | None = None
    error: str | None = None
    judge_score: float | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def tpot_s(self) -> float | None:
        """(e2e − TTFT) / (output tokens − 1), as vLLM's benchmark_serving defines it."""
        if self.ttft_s is None or self.e2e_s is None or not self.output_tokens:
            return None
        if self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        data["reply"] = data.pop("text")
        return data


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str | None
    model: str


async def stream_chat(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    prompt: str,
    record: RequestRecord,
    *,
    max_tokens: int,
) -> RequestRecord:
    """Fill ``record`` from one streamed /chat/completions call; errors go in ``record.error``."""
    body = {
        "model": endpoint.model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    start = time.perf_counter()
    last: float | None = None
    pieces: list[str] = []
    try:
        async with session.post(url, json=body, headers=headers) as response:
            if response.status != 200:
                detail = (await response.text())[:300]
                record.error = f"HTTP {response.status}: {detail}"
                return record
            async for raw in response.content:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if "error" in chunk:
                    record.error = str(chunk["error"].get("message", chunk["error"]))[:300]
                    return record
                if chunk.get("usage"):
                    record.prompt_tokens = chunk["usage"].get("prompt_tokens")
                    record.output_tokens = chunk["usage"].get("completion_tokens")
                text = "".join(
                    (c.get("delta") or {}).get("content") or "" for c in chunk.get("choices", [])
                )
                if not text:
                    continue
                now = time.perf_counter()
                if last is None:
                    record.ttft_s = now - start
                else:
                    record.itl_s.append(now - last)
                last = now
                pieces.append(text)
    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"[:300]
        return record
    record.e2e_s = time.perf_counter() - start
    record.text = "".join(pieces)
    if record.output_tokens is None:
        # No usage from the server: count content chunks (one token each, usually).
        record.output_tokens = len(pieces)
    return record
