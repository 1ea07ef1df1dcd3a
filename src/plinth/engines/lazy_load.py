"""Loading a local model when the first request needs it (``llamacpp.load = "on_first_use"``).

At start-up each model is still loaded once, by llama.cpp's own loader with
the smallest context (``check_loads``), and let go: a file llama.cpp cannot
load (not a GGUF, truncated, an architecture it does not know, a missing
tensor) stops ``plinth serve`` with the same message as ``on_start`` would,
instead of showing first at a request. What the check cannot see is a failure
that needs the full context (memory for the KV cache).

One load at a time: requests that arrive while it runs wait on the same
load. A failed load is not remembered: those waiting get a 503
``model_unavailable`` that names the model and the cause, and the next
request tries again. A client that disconnects while waiting does not
cancel the load for the others.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from plinth.errors import EngineUnavailable

log = logging.getLogger(__name__)

# The check's context: enough for llama.cpp to set up a slot, nothing like a
# real one (the bundled chat model's 8 x 2,048 cells are ~300 MB).
CHECK_CONTEXT = 256
# llama.cpp's destructor joins its threads; one seen hanging must not hang start-up.
_RELEASE_TIMEOUT_S = 15.0
# How long the check waits for llama.cpp's own HTTP listener before dropping it.
_LISTENER_WAIT_S = 5.0


async def check_loads(model_id: str, path: Path, make_params: Callable[[], Any]) -> None:
    """Load the model with llama.cpp once, with a minimal context, and let it go.

    Raises ``RuntimeError`` naming the model and the file if llama.cpp cannot
    load it. The memory llama.cpp used is returned to the system afterwards
    (the weights are a file mapping; its heap is trimmed), so the process idles
    as if the model had never been loaded.

    The server is dropped only once its own HTTP listener answers
    (:func:`until_listening`): llama.cpp's destructor stops that listener and
    joins its thread, and a server dropped right after it was made could be
    stopped before the listener started, which then waited in ``accept`` for
    ever while the destructor joined it, holding the GIL: ``plinth serve``
    hung at start-up (three times on 2026-12-07 under the TTFT benchmark;
    py-spy: ``~Server`` -> ``std::thread::join``, a thread in ``accept``).
    Made and dropped at once in a loop, the bundled chat model hung within 3
    rounds in each of two runs; with the wait, 60 rounds passed. The server is
    made and dropped on a thread of its own, never on the event loop.
    """
    import xllamacpp

    failure: list[BaseException] = []
    loaded = threading.Event()
    released = threading.Event()

    def check() -> None:
        try:
            params = make_params()
            params.n_parallel = 1
            params.n_ctx = CHECK_CONTEXT
            params.cache_ram_mib = 0
            server = xllamacpp.Server(params)
        except BaseException as exc:  # noqa: BLE001 - raised on the event loop below
            failure.append(exc)
            loaded.set()
            released.set()
            return
        loaded.set()
        until_listening(server.listening_address)
        del server  # the only reference: the destructor runs here, on this thread
        _trim_heap()
        released.set()

    threading.Thread(target=check, name=f"llamacpp-check-{model_id}", daemon=True).start()
    await asyncio.to_thread(loaded.wait)
    if failure:
        if isinstance(failure[0], RuntimeError):
            raise RuntimeError(
                f"llama.cpp could not load '{model_id}' from {path}: {failure[0]}"
                " (rerun with --log-level debug for llama.cpp's own log)"
            ) from failure[0]
        raise failure[0]
    if not await asyncio.to_thread(released.wait, _RELEASE_TIMEOUT_S):
        log.warning("llama.cpp did not release the check load of '%s' in time", model_id)


def until_listening(address: str) -> None:
    """Return once llama.cpp's HTTP listener at ``address`` answers (its public
    ``/health``), or after a few seconds; a server whose listener has not started
    must not be dropped (see :func:`check_loads`)."""
    if not address:
        return
    # Straight to loopback, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + _LISTENER_WAIT_S
    while time.monotonic() < deadline:
        try:
            with opener.open(f"{address}/health", timeout=1.0) as answer:
                answer.read()
            return
        except urllib.error.HTTPError:  # any HTTP answer: the listener runs
            return
        except OSError:  # not listening yet
            time.sleep(0.01)
    log.warning(
        "llama.cpp's listener at %s did not answer; dropping the check load anyway", address
    )


def _trim_heap() -> None:
    """Give freed heap pages back to the system (glibc keeps them otherwise: ~20 MB here)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


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
