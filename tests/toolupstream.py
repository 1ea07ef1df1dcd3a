"""A fake OpenAI-compatible upstream that calls tools: the bundled model rarely does.

A :class:`~upstreamfake.FakeUpstream` (a real HTTP server on 127.0.0.1) whose
chat answers call the first tool of a request that offers tools and has no
tool result yet; once a ``tool`` message is there, it answers in text quoting
that result. Streams send the call's arguments in two fragments, as real
upstreams split them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from upstreamfake import FakeUpstream, Received

Json = dict[str, Any]
ARGUMENTS = {"city": "Paris", "unit": "celsius"}


class ToolCallingUpstream(FakeUpstream):
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        tools = body.get("tools") or []
        answered = any(m.get("role") == "tool" for m in body.get("messages", []))
        if not tools or answered:
            if answered:
                result = next(m for m in reversed(body["messages"]) if m["role"] == "tool")
                self.reply = f"The tool said: {result['content']}"
            # The base handler reads the body again: aiohttp keeps it for a second read.
            return await super()._chat(request)
        self.requests.append(Received(request.path, dict(request.headers), body))
        name = tools[0]["function"]["name"]
        arguments = json.dumps(ARGUMENTS)
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        call = {"id": "call_fake_1", "type": "function"}
        if not body.get("stream"):
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{**call, "function": {"name": name, "arguments": arguments}}],
            }
            return web.json_response(
                {
                    "id": "fake-tools",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                    "usage": usage,
                }
            )
        half = len(arguments) // 2
        deltas: list[Json] = [
            {"role": "assistant", "content": None},
            {"tool_calls": [{"index": 0, **call, "function": {"name": name, "arguments": ""}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": arguments[:half]}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]},
        ]
        chunks = [{"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({"choices": [], "usage": usage})
        framed = [
            {"id": "fake-tools", "object": "chat.completion.chunk", "model": body.get("model"), **c}
            for c in chunks
        ]
        return await self._sse(request, framed, None)
