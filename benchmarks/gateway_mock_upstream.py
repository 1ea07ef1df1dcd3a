"""A fixed-latency OpenAI-compatible upstream for benchmarks/gateway_overhead.py.

    python benchmarks/gateway_mock_upstream.py --port 9001 --latency-ms 10

Non-streamed chat answers come after the latency; streamed ones send their
first chunk after the latency and the rest (8 content chunks, the finish
chunk, a usage chunk when asked, [DONE]) at once. One process, uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

WORDS = ["The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "dog."]
USAGE = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}


def _chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "mock-gpt",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


STREAM_BODY = (
    _chunk({"role": "assistant", "content": ""})
    + b"".join(_chunk({"content": w}) for w in WORDS)
    + _chunk({}, "stop")
)
USAGE_CHUNK = (
    b"data: "
    + json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "mock-gpt",
            "choices": [],
            "usage": USAGE,
        }
    ).encode()
    + b"\n\n"
)
WHOLE = json.dumps(
    {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "mock-gpt",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(WORDS)},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
).encode()


def make_app(latency_s: float) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        await asyncio.sleep(latency_s)
        if not body.get("stream"):
            return web.Response(body=WHOLE, content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        include = (body.get("stream_options") or {}).get("include_usage")
        await response.write(STREAM_BODY + (USAGE_CHUNK if include else b"") + b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def models(_: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": "mock-gpt", "object": "model"}]}
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(
        make_app(args.latency_ms / 1000),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
