"""Runs batches in the background, behind interactive traffic.

One task looks at every active batch: it validates new ones, dispatches
pending lines (at most ``concurrency`` at once, and none while
``yield_at`` interactive requests are in flight, so a batch fills the gaps
between interactive requests instead of queueing ahead of them), expires
those past their completion window, and finalizes finished or cancelled ones
by writing their output and error files.

Every state change is a conditional update in the database, and a line's
outcome is recorded once (:meth:`BatchStore.finish_line`), so a server that
stops at any point resumes each batch where it was. A line is leased by the
server that runs it (``lease_s``, renewed while it runs), so replicas on one
database share a batch's lines instead of running each twice, and the lines
of a server that died run again once its leases end. At shutdown, lines in
flight get ``drain_s`` to finish.

Pre-emption (``preempt``): not dispatching is not enough on an in-process
model, where a line already decoding shares the CPU with the interactive
request that just arrived. So when an interactive request opens and brings
interactive traffic to ``yield_at``, every line running (or about to run) on
an in-process model is stopped: its gateway call is cancelled, which stops
llama.cpp at its next token, its accounting is withdrawn (no ledger row, the
reservation released), and its lease is given up, so it runs again from its
start once interactive traffic allows. A stopped line is never recorded, so
it cannot reach the output file twice; its request id stays the same, so the
run that finishes it is billed once. The runner hooks the gateway only while
it has such a line in flight, so an interactive request costs nothing when
no batch line could compete with it.

The idle lane (``lane = "process"``, the default where the platform allows):
lines for an in-process llama.cpp model run instead in a child process at
the lowest CPU priority (:mod:`plinth.batches.idle_lane`), where the kernel
takes the CPU back for interactive work at any instant, prompt evaluation
included; such lines are not pre-empted. The runner starts the lane before
it starts the first line that needs it; a line whose lane died is withdrawn
like a pre-empted one and runs again, in-process until a new lane starts.
Steady interactive traffic can hold a lane's line back without end, so when
its batch is cancelled or its window closes it is stopped (withdrawn, the
child's stream closed), not waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter

from plinth.auth import Principal
from plinth.batches.idle_lane import IdleLanes, LaneCall, lane_call
from plinth.batches.lines import expired_record, open_line, run_line
from plinth.batches.outputs import write_outputs
from plinth.batches.settings import BatchSettings
from plinth.batches.store import Batch, BatchStore
from plinth.batches.validation import BatchLine, validate_file
from plinth.engines.base import Json
from plinth.errors import PlinthError
from plinth.metering.accounting import Accounting
from plinth.services import Services

log = logging.getLogger(__name__)
YIELD_POLL_S = 0.02  # how soon a batch that gave way to interactive traffic looks again
# Lines start at least this long after the last interactive request left the
# gateway: its ledger row and response are still on their way out then, and a
# line's start (database claim, privacy screen, prompt) would compete with them.
RESUME_AFTER_S = 0.05


def _now() -> int:
    return int(time.time())


@dataclass
class _Line:
    """A line this server runs: its gateway call (``work``) and what records it (``task``)."""

    acct: Accounting
    work: asyncio.Task[tuple[bool, Json]]
    preemptible: bool  # a generation line that may land on an in-process model
    lane: LaneCall | None = None  # sent to its model's idle lane
    task: asyncio.Task[None] | None = None
    withdrawn_at: float | None = None  # perf_counter when it was stopped to run again later


class BatchRunner:
    def __init__(self, svc: Services, store: BatchStore, settings: BatchSettings):
        self.svc, self.store, self.settings = svc, store, settings
        self._running: dict[str, dict[int, _Line]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._yielding = False
        self.owner = secrets.token_hex(8)  # this server's name on the lines it leases
        self._renewed = 0.0
        self.preempted = 0  # lines stopped for interactive traffic, over this runner's life
        self.lanes = IdleLanes(svc.gateway.router, lambda: self.settings)
        self._preempted_metric = Counter(
            "plinth_batch_lines_preempted",
            "Batch lines stopped on an in-process model for interactive traffic (run again).",
            registry=svc.metrics.registry,
        )

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="batch-runner")

    def wake(self) -> None:
        """Look at the batches now (a batch was created or cancelled)."""
        self._wake.set()

    async def close(self) -> None:
        """Stop dispatching; give the lines in flight ``drain_s`` to finish."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.svc.gateway.on_interactive = None
        entries = [entry for lines in self._running.values() for entry in lines.values()]
        tasks = [entry.task for entry in entries if entry.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.settings.drain_s)
            for entry in entries:
                if entry.task in late:
                    self._withdraw(entry)  # it runs again after the restart: book nothing now
                    entry.task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.lanes.close()
        # Lines this server leased but never finished are free for the next one at once.
        await self.svc.db.run(self.store.release, self.owner)

    @property
    def running(self) -> int:
        return sum(len(lines) for lines in self._running.values())

    async def _loop(self) -> None:
        ticked = float("-inf")
        while True:
            self._wake.clear()
            # While interactive traffic holds the batches back, look every YIELD_POLL_S
            # whether it has gone, but read the database at most every poll_s: its
            # queries (on threads) would otherwise compete with that traffic.
            held = self._yielding and self._interactive_busy()
            if not held or time.monotonic() - ticked >= self.settings.poll_s:
                ticked = time.monotonic()
                self._yielding = False
                try:
                    if time.monotonic() - self._renewed >= self.settings.lease_s / 3:
                        self._renewed = time.monotonic()
                        await self._renew_leases()
                    await self._tick()
                    await self.lanes.reap()
                except Exception:
                    log.exception("the batch runner's pass failed; trying again")
            wait = YIELD_POLL_S if self._yielding else self.settings.poll_s
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that
            # lands as the event is set, and close() then awaited this loop for ever
            # (seen once, a test's teardown hung).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def _tick(self) -> None:
        for batch in await self.svc.db.run(self.store.active):
            if batch.status == "validating":
                await self._validate(batch)
            elif batch.status == "in_progress":
                await self._advance(batch)
            elif batch.status == "cancelling":
                self._stop_lane_lines(batch.id)  # at idle priority they might never finish
                if not self._running.get(batch.id):
                    await self._finalize(batch, "cancelling", "cancelled", cancelled_at=_now())
            elif batch.status == "finalizing":
                await self._finalize(batch, "finalizing", "completed", completed_at=_now())

    # --- steps -------------------------------------------------------------------------

    async def _validate(self, batch: Batch) -> None:
        path: Path = self.svc.file_storage.path(batch.input_file_id)
        try:
            data = await asyncio.to_thread(path.read_bytes)  # file bytes, not database work
        except OSError:
            data = b""
        lines, errors = await asyncio.to_thread(
            validate_file, data, batch.endpoint, max_lines=self.settings.max_lines
        )
        if errors:
            await self.svc.db.run(self.store.fail_validation, batch.id, errors, _now())
        else:
            await self.svc.db.run(self.store.start, batch.id, lines, _now())
        self.wake()

    async def _advance(self, batch: Batch) -> None:
        running = self._running.setdefault(batch.id, {})
        db, store = self.svc.db, self.store
        if _now() >= batch.expires_at:
            self._stop_lane_lines(batch.id)  # queued again, so expired below
            if not running:  # the lines in flight finish first
                await self._expire(batch)
            return
        free = self.settings.concurrency - self.running
        if free > 0 and self._interactive_busy():
            self._yielding, free = True, 0  # interactive traffic first
        if free > 0:
            lines = await db.run(
                store.claim,
                batch.id,
                owner=self.owner,
                limit=free,
                now=_now(),
                lease_s=self.settings.lease_s,
            )
            if lines:
                await self._start_lanes(batch, lines)
                principal = await db.run(store.principal, batch.key_id)
                if self._interactive_busy():  # it arrived while the lines were claimed
                    for line in lines:
                        await db.run(store.release_line, batch.id, line.index, self.owner)
                    self._yielding = True
                    return
                for line in lines:  # from here on, an arrival stops them (_running)
                    running[line.index] = self._start(batch, line, principal)
                return
        if running or self._yielding:
            return
        if await db.run(store.pending, batch.id, limit=1):
            return  # lines still to run, leased by another server
        if await db.run(
            store.transition, batch.id, ("in_progress",), "finalizing", finalizing_at=_now()
        ):
            self.wake()

    def _interactive_busy(self) -> bool:
        gateway = self.svc.gateway
        if gateway.interactive_in_flight >= self.settings.yield_at:
            return True
        idle_s = max(self.settings.idle_s, RESUME_AFTER_S)
        return time.monotonic() - gateway.interactive_idle_since < idle_s

    async def _renew_leases(self) -> None:
        """Keep the lines this server runs its own (they outlive one lease)."""
        until = _now() + int(self.settings.lease_s)
        for batch_id, lines in list(self._running.items()):
            if lines:
                await self.svc.db.run(
                    self.store.renew, batch_id, list(lines), owner=self.owner, until=until
                )

    # --- one line ----------------------------------------------------------------------

    async def _start_lanes(self, batch: Batch, lines: list[BatchLine]) -> None:
        """Start the idle lanes these lines need, before any of them starts in-process."""
        for model in {self._local_model(batch, line) for line in lines}:
            if model is not None and self.lanes.ready(model) is None:
                await self.lanes.ensure(model)  # None: they run in-process

    def _start(self, batch: Batch, line: BatchLine, principal: Principal | None) -> _Line:
        acct = open_line(self.svc, batch, line, principal)
        model = self._local_model(batch, line)
        lane = LaneCall(acct) if model and self.lanes.ready(model) else None
        preemptible = model is not None and lane is None and self.settings.preempt
        # Cancelling ``work`` stops the line; the task that records it is apart, so a
        # pre-emption never interrupts the recording of a line that finished.
        work = asyncio.create_task(self._work(batch, line, acct, preemptible, lane))
        entry = _Line(acct, work, preemptible, lane)
        entry.task = asyncio.create_task(self._run(batch, line, entry))
        if preemptible:  # an interactive arrival may have to stop it from now on
            self.svc.gateway.on_interactive = self._interactive_arrived
        return entry

    async def _work(
        self,
        batch: Batch,
        line: BatchLine,
        acct: Accounting,
        preemptible: bool,
        lane: LaneCall | None,
    ) -> tuple[bool, Json]:
        if lane is None:
            return await run_line(self.svc, batch, line, acct, stream=preemptible)
        # A stream, so that stopping the line (cancel, window, shutdown) stops the child.
        with lane_call(lane):  # the model's calls from this task go to its lane
            return await run_line(self.svc, batch, line, acct, stream=True)

    def _stop_lane_lines(self, batch_id: str) -> None:
        """Stop the batch's lines in an idle lane, which interactive traffic could hold
        back without end: a cancelled or expired batch must not wait for them."""
        for entry in list(self._running.get(batch_id, {}).values()):
            if entry.lane is not None:
                self._withdraw(entry, preempted=False)

    def _local_model(self, batch: Batch, line: BatchLine) -> str | None:
        """The model of a generation line, if it has an in-process deployment."""
        if batch.endpoint == "/v1/embeddings":
            return None  # an embedding call cannot be stopped part-way: it is not started
        router = self.svc.gateway.router
        try:
            target = router.resolve(str(line.body.get("model") or ""), batch.tenant_id)
        except PlinthError:
            return None
        if any(s.is_local and s.deployment.model == target for s in router.states()):
            return target
        return None

    async def _run(self, batch: Batch, line: BatchLine, entry: _Line) -> None:
        try:
            try:
                ok, record = await entry.work
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if entry.withdrawn_at is None or (current is not None and current.cancelling()):
                    raise  # the runner itself is stopping
            if entry.lane is not None and entry.lane.lost:  # its lane died: run it again
                log.warning("batch %s line %d lost its lane; queued again", batch.id, line.index)
                entry.withdrawn_at = time.perf_counter()
            if entry.withdrawn_at is not None:  # stopped for interactive traffic: run it again
                await self.svc.db.run(self.store.release_line, batch.id, line.index, self.owner)
                return
            await self.svc.db.run(self.store.finish_line, batch.id, line.index, ok, record, _now())
        except Exception:
            log.exception("batch %s line %d could not be recorded", batch.id, line.index)
        finally:
            self._running.get(batch.id, {}).pop(line.index, None)
            if not self._preemptible_in_flight():
                self.svc.gateway.on_interactive = None  # nothing to stop: off the request path
            self.wake()

    def _preemptible_in_flight(self) -> bool:
        return any(e.preemptible for lines in self._running.values() for e in lines.values())

    def _interactive_arrived(self) -> None:
        """The gateway opened an interactive request: stop the lines that compete with it."""
        if not self.settings.preempt:
            return
        if self.svc.gateway.interactive_in_flight < self.settings.yield_at:
            return
        for lines in self._running.values():
            for entry in lines.values():
                if entry.preemptible and self._on_local_model(entry.acct):
                    self._withdraw(entry)

    def _on_local_model(self, acct: Accounting) -> bool:
        """Running on an in-process model, or not yet placed (a stream is placed at its
        first token): an upstream's line costs this machine no CPU and goes on."""
        if acct.deployment is None:
            return True
        state = self.svc.gateway.router.state(acct.deployment)
        return state is None or state.is_local

    def _withdraw(self, entry: _Line, *, preempted: bool = True) -> None:
        """Stop the line's call, booking nothing; it runs again later (same request id)."""
        if entry.work.done() or entry.acct.closed or entry.withdrawn_at is not None:
            return  # finished, or booked already: let it be recorded
        entry.acct.withdrawn = True
        entry.withdrawn_at = time.perf_counter()
        entry.work.cancel()
        if preempted:
            self.preempted += 1
            self._preempted_metric.inc()

    async def _expire(self, batch: Batch) -> None:
        """The window closed: every line not run goes to the error file as expired."""
        while lines := await self.svc.db.run(self.store.pending, batch.id, limit=500):
            for line in lines:
                record = expired_record(line, batch.id)
                await self.svc.db.run(
                    self.store.finish_line, batch.id, line.index, False, record, _now()
                )
        await self._finalize(batch, "in_progress", "expired", expired_at=_now())

    async def _finalize(self, batch: Batch, frm: str, to: str, **at: int) -> None:
        output, errors = await write_outputs(self.svc, self.store, batch)
        await self.svc.db.run(
            self.store.transition,
            batch.id,
            (frm,),
            to,
            output_file_id=output,
            error_file_id=errors,
            **at,
        )
        self._running.pop(batch.id, None)


async def start_batches(svc: Services, stack: contextlib.AsyncExitStack) -> BatchRunner:
    """The app's batch runner, started, and stopped (drained) on shutdown."""
    runner = BatchRunner(svc, BatchStore(svc.db.engine), svc.settings.batches)
    stack.push_async_callback(runner.close)
    await runner.start()
    return runner
