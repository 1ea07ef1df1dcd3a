"""An OpenAI-compatible upstream with real gaps, for the gateway benchmarks.

    python benchmarks/gateway_mock_upstream.py --port 9001 --latency-ms 10 --gap-ms 1

Non-streamed chat answers come after the latency. Streamed ones send a role
chunk and the first content chunk after the latency, then the other content
chunks (20 in all) one every ``--gap-ms``, each its own write, then the finish
chunk, a usage chunk when asked, and [DONE]. The answer's text is ``ANSWER``
either way, so a load generator can check every response. One process, uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

WORDS = [f"w{i:02d} " for i in range(19)] + ["end."]
ANSWER = "".join(WORDS)
USAGE = {"prompt_tokens": 12, "completion_tokens": len(WORDS), "total_tokens": 12 + len(WORDS)}


def _chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "mock-gpt",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


FIRST = _chunk({"role": "assistant", "content": ""}) + _chunk({"content": WORDS[0]})
NEXT = [_chunk({"content": w}) for w in WORDS[1:]]
FINISH = _chunk({}, "stop")
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
                "message": {"role": "assistant", "content": ANSWER},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
).encode()


def make_app(latency_s: float, gap_s: float) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        await asyncio.sleep(latency_s)
        if not body.get("stream"):
            return web.Response(body=WHOLE, content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        include = (body.get("stream_options") or {}).get("include_usage")
        await response.write(FIRST)
        for chunk in NEXT:
            await asyncio.sleep(gap_s)
            await response.write(chunk)
        await response.write(FINISH + (USAGE_CHUNK if include else b"") + b"data: [DONE]\n\n")
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
    parser.add_argument("--latency-ms", type=float, default=10.0, help="to the first token")
    parser.add_argument("--gap-ms", type=float, default=1.0, help="between content chunks")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(
        make_app(args.latency_ms / 1000, args.gap_ms / 1000),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
