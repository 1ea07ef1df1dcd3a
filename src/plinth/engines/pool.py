"""The running engines, by public model name."""

from __future__ import annotations

import asyncio
import logging

from plinth.engines.base import Engine
from plinth.errors import ModelNotFound

log = logging.getLogger(__name__)


class EnginePool:
    def __init__(self, engines: list[Engine] | None = None):
        self._engines: dict[str, Engine] = {e.model_id: e for e in engines or []}

    def get(self, model_id: str) -> Engine:
        engine = self._engines.get(model_id)
        if engine is None:
            raise ModelNotFound(
                f"The model '{model_id}' does not exist or is not served here; "
                "GET /v1/models lists the available ones",
                param="model",
            )
        return engine

    def has(self, model_id: str) -> bool:
        return model_id in self._engines

    def all(self) -> list[Engine]:
        return list(self._engines.values())

    async def start(self) -> None:
        # Loading is mostly file I/O and page-faulting weights: in parallel it is faster.
        await asyncio.gather(*(engine.start() for engine in self._engines.values()))
        for engine in self._engines.values():
            log.info("model ready: %s (%s)", engine.model_id, engine.kind)

    async def close(self) -> None:
        for engine in self._engines.values():
            await engine.close()
