"""Loading a local model when the first request needs it (``llamacpp.load = "on_first_use"``).

One load at a time: requests that arrive while it runs wait on the same
load. A failed load is not remembered: those waiting get a 503
``model_unavailable`` that names the model and the cause, and the next
request tries again. A client that disconnects while waiting does not
cancel the load for the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from plinth.errors import EngineUnavailable

log = logging.getLogger(__name__)


class LoadOnFirstUse:
    def __init__(self, model_id: str, load: Callable[[], Awaitable[None]]):
        self.model_id = model_id
        self._load = load
        self.loaded = False
        self._loading: asyncio.Task[None] | None = None

    async def ensure(self) -> None:
        """Return once the model is loaded; raise ``EngineUnavailable`` if loading failed."""
        if self.loaded:
            return
        if self._loading is None:
            self._loading = asyncio.create_task(self._load_now())
            # Read the outcome even if every waiter went away, so a failure is
            # not reported as "exception never retrieved".
            self._loading.add_done_callback(_consume)
        try:
            await asyncio.shield(self._loading)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise EngineUnavailable(
                f"Model '{self.model_id}' could not be loaded: {exc}; the next request tries again",
                param="model",
                code="model_unavailable",
            ) from exc

    async def _load_now(self) -> None:
        log.info("loading model on first use: %s", self.model_id)
        try:
            await self._load()
            self.loaded = True
        except Exception:
            log.exception("loading model %s failed", self.model_id)
            raise
        finally:
            self._loading = None


def _consume(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
