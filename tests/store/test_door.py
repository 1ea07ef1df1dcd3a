"""The database door: a writer holding SQLite's lock stalls database work, not the server.

A ``plinth`` CLI command (or any other process) that holds the write lock makes
the server's next commit wait up to the busy timeout. That wait happens on a
database thread: ``/health`` and database reads still answer, and a request
gets its answer at once (its ledger row is in the local journal) while the row's
commit waits for the lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gatewaysupport import AppFactory, deployment
from plinth.store.door import Database
from plinth.store.usage import UsageRecord, UsageStore
from upstreamfake import FakeUpstream

CHAT = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


@pytest.mark.anyio
async def test_run_calls_the_function_off_the_event_loop(tmp_path: Path) -> None:
    from plinth.store.database import open_database

    db = Database(open_database(f"sqlite:///{tmp_path / 'p.db'}"))
    try:
        name = await db.run(lambda: threading.current_thread().name)
        assert name.startswith("plinth-db")
        assert await db.run(divmod, 7, 2) == (3, 1)
    finally:
        db.close()


def test_a_writer_holding_the_lock_stalls_no_other_request(
    gateway_app: AppFactory,
    upstreams: Callable[[], FakeUpstream],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = gateway_app([deployment(upstreams())])
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 200  # keys cached

    writing = threading.Event()
    append = UsageStore.append

    def observed_append(self: UsageStore, records: list[UsageRecord]) -> None:
        writing.set()  # the recorder is committing: it now waits for the lock below
        append(self, records)

    monkeypatch.setattr(UsageStore, "append", observed_append)

    # What `plinth tenants create` does from another process: take the write lock.
    holder = sqlite3.connect(tmp_path / "plinth.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    answered: dict[str, Any] = {}

    def chat() -> None:
        answered["chat"] = client.post("/v1/chat/completions", json=CHAT)

    asker = threading.Thread(target=chat)
    try:
        asker.start()
        assert writing.wait(30), "the ledger write never started"
        # The chat's row is journaled, so its answer does not wait for the lock;
        # the commit waits on a database thread while the loop serves the rest.
        asker.join(30)
        assert "chat" in answered, "the chat's answer waited for the database lock"
        health = client.get("/health")
        assert health.status_code == 200
        tenants = client.get("/admin/tenants")  # a read: WAL readers pass a writer
        assert tenants.status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        asker.join(30)
    response: httpx.Response = answered["chat"]
    assert response.status_code == 200, response.text
    row = client.get(f"/admin/usage/requests/{response.headers['x-request-id']}")
    assert row.status_code == 200, row.text
