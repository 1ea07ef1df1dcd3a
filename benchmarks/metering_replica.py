"""``plinth serve`` with a fast in-process mock chat engine, for benchmarks/metering.py.

    python benchmarks/metering_replica.py --port 8001   # settings from PLINTH_* and plinth.toml

The model ``mock-gpt`` answers every chat completion at once with a fixed
reply and usage, inside the replica: no upstream process, no HTTP hop. What
is left is Plinth's own request path — auth, privacy screening, routing,
reserve, settle, the ledger — which is what the metering benchmark measures.
Everything else is as ``plinth serve`` runs it (uvicorn, the same app).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import uvicorn

from plinth.app import create_app
from plinth.cli.serve import preflight
from plinth.engines.base import Engine
from plinth.settings import Settings

USAGE = {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}


class MockChat(Engine):
    def __init__(self, model_id: str = "mock-gpt"):
        super().__init__(model_id, "chat")

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_id,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "The quick brown fox jumps."},
                    "finish_reason": "stop",
                }
            ],
            "usage": dict(USAGE),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    settings = Settings(port=args.port, data_dir=args.data_dir, load_bundled_models=False)
    preflight(settings)
    uvicorn.run(
        create_app(settings, engines=[MockChat()]),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
