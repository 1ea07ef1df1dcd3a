"""Batch lines for an in-process model, run by a child process at the lowest CPU priority.

On a machine whose CPU the app's own llama.cpp uses, a batch line decoding
in-process competes with interactive requests: the runner can stop it only
at a token boundary, never mid prompt-evaluation. The idle lane moves batch
lines out of the process instead: a child (:mod:`plinth.batches.lane_child`)
runs llama.cpp's own HTTP server on the same GGUF (mmap'd: the weights'
pages are shared) at ``SCHED_IDLE`` (or nice 19), so the kernel runs it only
on CPU time that nothing else wants, and takes the core back the instant an
interactive request needs it.

Lines reach the child through the gateway as before, so metering, billing,
privacy and the ledger are unchanged: while a lane runs, its model's
deployment holds a :class:`LaneSwitch` that sends a call to the lane when
the calling task is a batch line's (a context variable the runner sets), and
to the in-process engine otherwise.

A lane starts when a batch first has a line for the model, stops after
``lane_idle_s`` without one, and at shutdown. If it dies, the line in flight
is withdrawn (booked nothing) and queued again, and lines run in-process
(pre-emptible) until a new lane could be started (``RETRY_AFTER_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from plinth.batches.lane_server import LaneLost, RemoteServer
from plinth.batches.settings import BatchSettings
from plinth.engines.base import (
    EmbeddingResult,
    Engine,
    Inbound,
    Json,
    Outbound,
    closing_stream,
)
from plinth.engines.llamacpp import LlamaCppEngine
from plinth.metering.accounting import Accounting
from plinth.routing.router import Router

log = logging.getLogger(__name__)
RETRY_AFTER_S = 60.0  # after a lane failed to start or died, lines run in-process this long
STOP_WAIT_S = 10.0


@dataclass
class LaneCall:
    """A batch line sent to a lane; ``lost`` if the lane died under it."""

    acct: Accounting
    lost: bool = False


# The batch line the current task runs, if it may use a lane (set by the runner).
_current: contextvars.ContextVar[LaneCall | None] = contextvars.ContextVar(
    "plinth_batch_lane_call", default=None
)


@contextlib.contextmanager
def lane_call(call: LaneCall) -> Iterator[None]:
    """Within the block, this task's calls to a model with a lane go to the lane."""
    token = _current.set(call)
    try:
        yield
    finally:
        _current.reset(token)


def supported() -> bool:
    """Whether this platform can lower a child's priority at all (else no lane)."""
    return hasattr(os, "SCHED_IDLE") or hasattr(os, "nice")


class IdleLane:
    """One child process serving one model."""

    def __init__(self, inner: LlamaCppEngine, settings: BatchSettings):
        self.inner, self.settings = inner, settings
        self.engine: LlamaCppEngine | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.priority = "unknown"  # what the child got: "idle", "nice" or "normal"
        self.in_flight = 0
        self.last_used = time.monotonic()
        # A call found it unreachable: dead, even while its process is still exiting.
        self.broken = False

    @property
    def alive(self) -> bool:
        if self.broken or self.engine is None or self.process is None:
            return False
        return self.process.poll() is None

    def _config(self, port: int, key: str) -> Json:
        options = dataclasses.asdict(self.inner.options)
        # Slots for the lines the runner runs at once, not for interactive traffic;
        # its threads never spin (they would spin on idle time only, but for nothing).
        options["parallel_slots"] = min(options["parallel_slots"], self.settings.concurrency)
        options["poll"] = 0
        options["load_on_first_use"] = False
        if self.settings.lane_threads:
            options["threads"] = self.settings.lane_threads
        return {
            "model": self.inner.model_id,
            "path": str(self.inner.path),
            "options": options,
            "port": port,
            "key": key,
            "priority": self.settings.lane_priority,
        }

    async def start(self) -> None:
        port, key = _free_port(), secrets.token_urlsafe(32)
        # Idle OpenMP threads block instead of spinning: the child never holds a core
        # it does not compute on, whatever the parent's environment says.
        env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "plinth.batches.lane_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(json.dumps(self._config(port, key)).encode() + b"\n")
            self.process.stdin.flush()
            # One line once the model is loaded, the server answers and the priority is
            # lowered (none: it died). Its health is not asked again here: at SCHED_IDLE
            # on a busy machine the answer could take longer than any timeout.
            ready = await asyncio.wait_for(
                asyncio.to_thread(self.process.stdout.readline), self.settings.lane_start_s
            )
            if not ready:
                raise RuntimeError("the batch lane's process exited while starting")
            info = json.loads(ready)
            self.priority = str(info.get("priority", "unknown"))
            # The child's own verdict: the in-process model may not be loaded yet.
            native_tools = bool(info.get("native_tools", False))
            base_url = f"http://127.0.0.1:{port}"
        except BaseException:
            await self.stop()
            raise
        engine = LlamaCppEngine(self.inner.model_id, "chat", self.inner.path, self.inner.options)
        engine._server = RemoteServer(base_url, key)
        engine._loader.loaded = True  # loaded by the child
        engine.native_tools = native_tools
        self.engine = engine
        log.info(
            "batch lane for %r started (pid %d, priority %s)",
            self.inner.model_id,
            self.process.pid,
            self.priority,
        )

    async def stop(self) -> None:
        engine, process, self.engine, self.process = self.engine, self.process, None, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()  # the child exits at the end of its stdin
        try:
            await asyncio.to_thread(process.wait, STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if process.stdout is not None:
            process.stdout.close()
        if engine is not None and isinstance(engine._server, RemoteServer):
            engine._server.close()
        log.info("batch lane for %r stopped", self.inner.model_id)


class IdleLanes:
    """The lanes of this server's batch runner, one per in-process chat model."""

    def __init__(self, router: Router, settings: Callable[[], BatchSettings]):
        # The runner's settings, read when used: they may be replaced while it runs.
        self.router, self._settings = router, settings
        self._lanes: dict[str, IdleLane] = {}
        self._failed_at: dict[str, float] = {}
        self.retry_after_s = RETRY_AFTER_S
        self._locks: dict[str, asyncio.Lock] = {}
        self.started = 0  # lanes started over the runner's life
        self.lost = 0  # lines withdrawn because their lane died

    @property
    def settings(self) -> BatchSettings:
        return self._settings()

    @property
    def enabled(self) -> bool:
        return self.settings.lane == "process" and supported()

    def _inner(self, model: str) -> LlamaCppEngine | None:
        for state in self.router.states():
            engine = state.engine
            if isinstance(engine, LaneSwitch):
                engine = engine.inner
            local = state.is_local and state.deployment.model == model
            if local and isinstance(engine, LlamaCppEngine) and engine.kind == "chat":
                return engine
        return None

    def wants(self, model: str) -> bool:
        """A lane would serve ``model`` (it may still have to start)."""
        if not self.enabled or self._inner(model) is None:
            return False
        failed = self._failed_at.get(model)
        return failed is None or time.monotonic() - failed >= self.retry_after_s

    def ready(self, model: str) -> IdleLane | None:
        """The model's running lane (its switch in place), if it has one."""
        lane = self._lanes.get(model)
        if lane is None or not lane.alive:
            return None
        self._install(model)  # the router may have rebuilt its table since
        return lane

    async def ensure(self, model: str) -> IdleLane | None:
        """The model's lane, started if need be; None if it cannot run one now."""
        if not self.wants(model):
            return None
        async with self._locks.setdefault(model, asyncio.Lock()):
            if (lane := self.ready(model)) is not None:
                return lane
            if model in self._lanes:  # died since: gone for good
                await self._drop(model)
            inner = self._inner(model)
            if inner is None:
                return None
            lane = IdleLane(inner, self.settings)
            try:
                await lane.start()
            except Exception:
                log.exception("the batch lane for %r did not start; lines run in-process", model)
                self._failed_at[model] = time.monotonic()
                return None
            self._lanes[model] = lane
            self.started += 1
            self._install(model)
            return lane

    def _install(self, model: str) -> None:
        for state in self.router.states():
            local = state.is_local and state.deployment.model == model
            if local and not isinstance(state.engine, LaneSwitch):
                state.engine = LaneSwitch(state.engine, self)

    def _uninstall(self, model: str) -> None:
        for state in self.router.states():
            if isinstance(state.engine, LaneSwitch) and state.deployment.model == model:
                state.engine = state.engine.inner

    def lane_died(self, model: str) -> None:
        """A line found its lane gone: in-process for a while, then a new lane."""
        self.lost += 1
        self._failed_at[model] = time.monotonic()

    async def _drop(self, model: str) -> None:
        lane = self._lanes.pop(model, None)
        self._uninstall(model)
        if lane is not None:
            await lane.stop()

    async def reap(self) -> None:
        """Stop the lanes no line has used for ``lane_idle_s``, dead ones, and all of
        them once lanes are off."""
        now = time.monotonic()
        for model, lane in list(self._lanes.items()):
            idle = lane.in_flight == 0 and now - lane.last_used >= self.settings.lane_idle_s
            if idle or not lane.alive or not self.enabled:
                await self._drop(model)

    async def close(self) -> None:
        for model in list(self._lanes):
            await self._drop(model)

    def route(self, model: str) -> IdleLane | None:
        """Where the current task's call to ``model`` goes: its lane if the task is a
        batch line's and the lane runs, else None (the in-process engine)."""
        call = _current.get()
        if call is None:
            return None
        lane = self._lanes.get(model)
        return lane if lane is not None and lane.alive else None


class LaneSwitch(Engine):
    """An in-process chat model whose batch lines go to its idle lane.

    Every other call, and every attribute, is the in-process engine's.
    """

    is_local = True

    def __init__(self, inner: Engine, lanes: IdleLanes):
        super().__init__(inner.model_id, inner.kind)
        self.inner, self._lanes = inner, lanes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _target(self) -> tuple[Engine, IdleLane | None]:
        lane = self._lanes.route(self.model_id)
        if lane is None or lane.engine is None:
            return self.inner, None
        return lane.engine, lane

    @contextlib.contextmanager
    def _using(self, lane: IdleLane | None) -> Iterator[None]:
        if lane is None:
            yield
            return
        lane.in_flight += 1
        try:
            yield
        except LaneLost:
            lane.broken = True
            call = _current.get()
            if call is not None:  # booked by nobody: the line runs again
                call.lost, call.acct.withdrawn = True, True
            self._lanes.lane_died(self.model_id)
            raise
        finally:
            lane.in_flight -= 1
            lane.last_used = time.monotonic()

    async def chat(self, body: Json) -> Json:
        engine, lane = self._target()
        with self._using(lane):
            return await engine.chat(body)

    async def complete(self, body: Json) -> Json:
        engine, lane = self._target()
        with self._using(lane):
            return await engine.complete(body)

    def chat_stream(self, body: Json) -> AsyncIterator[Json]:
        engine, lane = self._target()
        chunks = engine.chat_stream(body)
        return chunks if lane is None else self._stream(chunks, lane)  # interactive: as it is

    def complete_stream(self, body: Json) -> AsyncIterator[Json]:
        engine, lane = self._target()
        chunks = engine.complete_stream(body)
        return chunks if lane is None else self._stream(chunks, lane)

    async def _stream(self, chunks: AsyncIterator[Json], lane: IdleLane) -> AsyncIterator[Json]:
        with self._using(lane):
            async with closing_stream(chunks):
                async for chunk in chunks:
                    yield chunk

    # --- the rest is the in-process engine's ------------------------------------------

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        return await self.inner.embed(inputs)

    async def forward(self, outbound: Outbound) -> Inbound:
        return await self.inner.forward(outbound)

    async def health(self) -> None:
        await self.inner.health()

    def describe(self) -> Json:
        return self.inner.describe()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
