"""The ledger writer: batched, ordered, never loses a row it accepted."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plinth.metering.recorder import UsageRecorder
from plinth.store.database import open_database
from plinth.store.door import Database
from plinth.store.usage import UsageRecord, UsageStore

pytestmark = pytest.mark.anyio


def row(request_id: str, tokens: int = 1) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        created_at=datetime.now(UTC),
        key_id="key_x",
        endpoint="chat.completions",
        model="m",
        status="ok",
        http_status=200,
        prompt_tokens=tokens,
        completion_tokens=tokens,
        latency_ms=1.0,
    )


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    return open_database(f"sqlite:///{tmp_path / 'ledger.db'}")


async def test_rows_are_written_in_the_background_and_on_close(db: Engine) -> None:
    store = UsageStore(db)
    recorder = UsageRecorder(store, Database(db))
    await recorder.start()
    stored = [recorder.record(row(f"req_{i}")) for i in range(1200)]  # more than one batch
    await asyncio.wait_for(asyncio.gather(*stored), 10)  # each resolves once committed
    assert store.get("req_1199") is not None
    await recorder.close()
    summary = store.summary("model")
    assert summary[0]["requests"] == 1200
    assert summary[0]["prompt_tokens"] == 1200


async def test_a_duplicate_does_not_lose_its_batch_mates(db: Engine) -> None:
    store = UsageStore(db)
    store.append([row("req_dup")])
    recorder = UsageRecorder(store, Database(db))
    recorder.record(row("req_a"))
    recorder.record(row("req_dup", tokens=99))
    recorder.record(row("req_b"))
    await recorder.flush()
    assert store.get("req_a") is not None and store.get("req_b") is not None
    assert store.get("req_dup")["prompt_tokens"] == 1  # type: ignore[index]


async def test_rows_survive_a_failed_write(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    store = UsageStore(db)
    recorder = UsageRecorder(store, Database(db))
    original = store.append
    failures = iter([True])

    def flaky_append(records: list[UsageRecord]) -> None:
        if next(failures, False):
            raise OSError("disk full")
        original(records)

    monkeypatch.setattr(store, "append", flaky_append)
    recorder.record(row("req_keep"))
    with pytest.raises(OSError):
        await recorder.flush()
    await recorder.flush()
    assert store.get("req_keep") is not None


async def test_the_future_resolves_only_after_the_commit(db: Engine) -> None:
    store = UsageStore(db)
    recorder = UsageRecorder(store, Database(db))
    stored = recorder.record(row("req_late"))
    assert not stored.done() and store.get("req_late") is None
    await recorder.start()
    await asyncio.wait_for(stored, 5)
    assert store.get("req_late") is not None
    await recorder.close()


async def test_the_commit_runs_on_a_database_thread_not_the_event_loop(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = UsageStore(db)
    recorder = UsageRecorder(store, Database(db))
    threads: list[str] = []
    original = store.append

    def watched_append(records: list[UsageRecord]) -> None:
        threads.append(threading.current_thread().name)
        original(records)

    monkeypatch.setattr(store, "append", watched_append)
    await recorder.start()
    await asyncio.wait_for(asyncio.gather(*(recorder.record(row(f"t{i}")) for i in range(3))), 5)
    await recorder.close()
    assert threads and all(name.startswith("plinth-db") for name in threads)
