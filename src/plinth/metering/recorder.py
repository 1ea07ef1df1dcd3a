"""Writes ledger rows off the request path: a local journal first, then group commit.

``record`` appends the row to this process's journal (:mod:`.journal`, one
``os.write``) and returns a future that is already resolved: the row is in
the OS page cache, so a killed process (SIGKILL included) cannot lose it, and
the next start-up replays what the database did not get. The gateway awaits
that future before a response's last byte, so every response a client
received in full has its row, in the database or in a journal that will be
replayed. Without a journal (no folder given, or a write to it failed) the
future resolves only once the row is committed, as before.

Rows also go to a queue; one background task writes everything queued so far in
one transaction, then the next batch: under load the batches grow. Journaled
rows wait ``linger_s`` (0.5 s) for company first, since nobody waits for them,
or less once ``max_batch`` rows are queued.
The write and its commit run on the database door's threads
(:class:`plinth.store.door.Database`), never on the event loop. A row the
database refuses on its own goes to the dead letters (:mod:`.dead_letter`)
instead of blocking the queue; a database that fails (unreachable, locked) is
retried every second. A second task fsyncs the journal every
``sync_interval_s``; a journal segment is deleted once all its rows are
committed durably. ``flush`` waits until every row queued so far is stored
(reads of the ledger and shutdown call it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from plinth.metering.dead_letter import DeadLetters, is_transient
from plinth.metering.journal import SEGMENT_BYTES, Journal, Segment
from plinth.store.door import Database
from plinth.store.schema import usage
from plinth.store.usage import UsageRecord, UsageStore

log = logging.getLogger(__name__)

Entry = tuple[UsageRecord, "asyncio.Future[None]", Segment | None]

#: How often the journal is fsynced: the rows a power loss may take.
SYNC_INTERVAL_S = 1.0
#: How long journaled rows wait for company before their group commit. A commit's
#: CPU per row falls with its size (SQLite, one audit row each: 1.6 ms alone, 0.61
#: in sevens, 0.30 in 37s, 0.23 in 500s, on a loaded machine; ledger_commit.py
#: --group-sizes), and at c=1 a 0.1 s linger made groups of about 7. Reads of the
#: ledger flush first, so the wait is never seen; a killed process's rows are in
#: its journal.
LINGER_S = 0.5


class UsageRecorder:
    def __init__(
        self,
        store: UsageStore,
        db: Database,
        *,
        max_batch: int = 500,
        journal: Path | None = None,
        sync_interval_s: float = SYNC_INTERVAL_S,
        segment_bytes: int = SEGMENT_BYTES,
        linger_s: float = LINGER_S,
    ):
        self._store = store
        self._db = db
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Entry] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()  # one batch at a time; close cancels between batches
        self._files = asyncio.Lock()  # journal fsync vs segment deletion
        self._pending = asyncio.Event()
        self._full = asyncio.Event()  # max_batch rows queued: stop lingering
        self._journal = (
            Journal(journal, segment_bytes=segment_bytes) if journal is not None else None
        )
        self._journal_failing = False
        self._sync_interval_s = sync_interval_s
        self._linger_s = linger_s
        self.dead_letters = DeadLetters(journal)

    @property
    def journal(self) -> Journal | None:
        """The journal in use (None without one, or once it proved unusable)."""
        return self._journal

    def record(self, row: UsageRecord) -> asyncio.Future[None]:
        """Queue a row; the future resolves once it is journaled (or, without one, committed)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        segment = None
        if self._journal is not None:
            try:
                segment = self._journal.append(row)
            except (OSError, TypeError, ValueError):
                if not self._journal_failing:  # once per failing spell, not per request
                    log.exception("ledger journal write failed; responses wait for commits")
                self._journal_failing = True
            else:
                self._journal_failing = False
                done.set_result(None)
        self._queue.put_nowait((row, done, segment))
        self._pending.set()
        if self._queue.qsize() >= self._max_batch:
            self._full.set()
        return done

    async def start(self) -> None:
        """Open the journal, queue the rows dead processes left in it, start the tasks."""
        if self._journal is not None:
            try:
                adopted = self._journal.open()
            except OSError:
                log.exception("ledger journal unusable; responses wait for commits")
                self._journal = None
            else:
                loop = asyncio.get_running_loop()
                for segment, rows in adopted:
                    log.warning("replaying %d ledger rows from %s", len(rows), segment.path)
                    for row in rows:
                        self._queue.put_nowait((row, loop.create_future(), segment))
                self._pending.set()
                self._tasks.append(asyncio.create_task(self._sync(), name="ledger-journal-sync"))
        self._tasks.append(asyncio.create_task(self._run(), name="usage-recorder"))

    async def close(self) -> None:
        self._stopping.set()  # the fsync task ends after its current fsync
        async with self._lock:  # cancel the writer between batches, never mid-commit
            for task in self._tasks:
                if task.get_name() == "usage-recorder":
                    task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.flush()
        finally:
            if self._journal is not None:
                await self._close_journal(self._journal)

    async def _close_journal(self, journal: Journal) -> None:
        """Delete what the database holds; what it does not is fsynced, for the next start."""
        journal.seal()
        try:
            await self._retire()
        except Exception:
            log.exception("the ledger journal is kept: it is replayed at the next start")
        with contextlib.suppress(OSError):
            await asyncio.to_thread(journal.sync)
        journal.close()

    async def flush(self) -> None:
        async with self._lock:
            while not self._queue.empty():
                size = min(self._queue.qsize(), self._max_batch)
                batch = [self._queue.get_nowait() for _ in range(size)]
                replayed = any(s is not None and s.adopted for *_, s in batch)
                try:
                    retry = await self._db.run(self._write, [row for row, *_ in batch], replayed)
                except Exception:
                    retry = list(range(len(batch)))
                    raise
                finally:
                    for index in retry:  # keep them for the next try
                        self._queue.put_nowait(batch[index])
                    kept = set(retry)
                    for index, (_, done, segment) in enumerate(batch):
                        if index in kept:
                            continue
                        if not done.done():
                            done.set_result(None)
                        if segment is not None:
                            segment.outstanding -= 1
                if retry:
                    raise OSError(f"{len(retry)} ledger rows could not be written; retrying")

    async def _run(self) -> None:
        while True:
            await self._pending.wait()
            journaled = self._journal is not None and not self._journal_failing
            if journaled and not self._full.is_set():
                # Nobody waits for these commits: let more rows join the batch, up
                # to a full one (see LINGER_S).
                # asyncio.timeout: wait_for (3.11) can swallow close()'s cancel.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._linger_s):
                        await self._full.wait()
            self._full.clear()
            self._pending.clear()
            try:
                await self.flush()
                async with self._lock:  # close cancels this task between, never inside
                    await self._retire()
            except Exception:
                log.exception("writing the usage ledger failed; retrying in 1 s")
                self._pending.set()
                await asyncio.sleep(1.0)

    async def _sync(self) -> None:
        journal = self._journal
        assert journal is not None
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._sync_interval_s)
            if journal.dirty():
                try:
                    async with self._files:
                        await asyncio.to_thread(journal.sync)
                except OSError:
                    log.exception("fsync of the ledger journal failed")

    async def _retire(self) -> None:
        """Delete journal segments whose rows are all committed, once the database has
        made them durable (SQLite: a full WAL checkpoint; PostgreSQL: the commit)."""
        if self._journal is None or not self._journal.done():
            return
        async with self._files:
            segments = self._journal.done()
            durable: bool = bool(segments) and await self._db.run(self._make_durable)
            if durable:
                self._journal.remove(segments)

    def _make_durable(self) -> bool:
        """True once every committed row is on the disk, not only in the OS cache."""
        engine = self._db.engine
        if engine.dialect.name != "sqlite":
            return True  # PostgreSQL's commit flushed its WAL (synchronous_commit=on)
        with engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)").scalar()
        return busy == 0  # synchronous=NORMAL syncs the WAL at a checkpoint, not at commit

    def _write(self, batch: list[UsageRecord], replayed: bool) -> list[int]:
        """Store a batch; the indexes of the rows to retry (the database failed, not the row).

        A batch that fails is written row by row, so one bad row does not
        lose its batch-mates: a duplicate is dropped (it is stored already),
        a row the database refuses goes to the dead letters.
        """
        todo = list(enumerate(batch))
        if replayed:  # a dead process's journal: the database may have some of it already
            have = self._stored_ids([row.request_id for row in batch])
            todo = [(i, row) for i, row in todo if row.request_id not in have]
        try:
            self._store.append([row for _, row in todo])
            return []
        except Exception as exc:
            if is_transient(exc):
                raise
        retry = []
        for index, row in todo:
            try:
                self._store.append([row])
            except Exception as exc:  # noqa: BLE001 - whatever the row's error, it is set aside
                if is_transient(exc):
                    retry.append(index)
                elif isinstance(exc, IntegrityError) and self._stored_ids([row.request_id]):
                    log.error(
                        "ledger row for request %s was rejected as a duplicate", row.request_id
                    )
                else:
                    self.dead_letters.put(row, exc)
        return retry

    def _stored_ids(self, request_ids: list[str]) -> set[str]:
        """Which of these requests have their row in the database already."""
        with self._db.engine.connect() as conn:
            query = select(usage.c.request_id).where(usage.c.request_id.in_(request_ids))
            return set(conn.execute(query).scalars())
