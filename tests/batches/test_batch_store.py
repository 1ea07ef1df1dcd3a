"""BatchStore on SQLite and PostgreSQL: leases, outcomes recorded once, counters."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from plinth.batches.store import Batch, BatchStore, new_batch_id
from plinth.batches.validation import BatchLine, LineError


def _batch(store: BatchStore, lines: int) -> str:
    batch = Batch(
        id=new_batch_id(),
        key_id="key_1",
        tenant_id=None,
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        completion_window="24h",
        status="validating",
        output_file_id=None,
        error_file_id=None,
        errors=None,
        metadata=json.dumps({"a": "b"}),
        total=0,
        completed=0,
        failed=0,
        created_at=1000,
        expires_at=1000 + 86400,
    )
    store.add(batch)
    store.start(batch.id, [BatchLine(i, f"c{i}", {"model": "m"}) for i in range(lines)], now=1001)
    return batch.id


def test_leases_split_lines_between_servers_and_expire(db: Engine) -> None:
    store = BatchStore(db)
    batch_id = _batch(store, 5)
    first = store.claim(batch_id, owner="a", limit=3, now=2000, lease_s=60)
    second = store.claim(batch_id, owner="b", limit=3, now=2000, lease_s=60)
    assert [line.index for line in first] == [0, 1, 2]
    assert [line.index for line in second] == [3, 4]
    assert store.claim(batch_id, owner="b", limit=3, now=2059, lease_s=60) == []
    store.renew(batch_id, [0], owner="a", until=2200)
    # a's lease on 1 and 2 ran out (a died): b takes them; 0 was renewed.
    retaken = store.claim(batch_id, owner="b", limit=5, now=2061, lease_s=60)
    assert [line.index for line in retaken] == [1, 2, 3, 4]
    store.release("b")
    assert [
        line.index for line in store.claim(batch_id, owner="c", limit=5, now=2062, lease_s=60)
    ] == [
        1,
        2,
        3,
        4,
    ]


def test_an_outcome_is_recorded_once_with_its_counter(db: Engine) -> None:
    store = BatchStore(db)
    batch_id = _batch(store, 3)
    assert store.finish_line(batch_id, 0, True, {"custom_id": "c0"}, now=3000)
    assert not store.finish_line(batch_id, 0, False, {"custom_id": "again"}, now=3001)
    assert store.finish_line(batch_id, 2, False, {"custom_id": "c2"}, now=3002)
    batch = store.get(batch_id)
    assert batch is not None
    assert batch.as_json()["request_counts"] == {"total": 3, "completed": 1, "failed": 1}
    assert batch.as_json()["metadata"] == {"a": "b"} and batch.status == "in_progress"
    assert store.results(batch_id) == [
        ("completed", json.dumps({"custom_id": "c0"})),
        ("failed", json.dumps({"custom_id": "c2"})),
    ]
    assert [line.index for line in store.pending(batch_id, limit=10)] == [1]
    assert store.get(batch_id, key_id="someone else") is None


def test_state_changes_are_conditional(db: Engine) -> None:
    store = BatchStore(db)
    batch_id = _batch(store, 1)
    assert store.transition(batch_id, ("validating", "in_progress"), "cancelling", cancelling_at=5)
    assert not store.transition(batch_id, ("in_progress",), "finalizing", finalizing_at=6)
    other = new_batch_id()
    store.add(
        Batch(
            **{**store.get(batch_id).__dict__, "id": other, "status": "validating"}  # type: ignore[union-attr]
        )
    )
    store.fail_validation(other, [LineError("invalid_json_line", "bad", 1)], now=7)
    failed = store.get(other)
    assert failed is not None and failed.status == "failed"
    assert failed.as_json()["errors"]["data"] == [
        {"code": "invalid_json_line", "message": "bad", "param": None, "line": 1}
    ]
    page, more = store.page(key_id="key_1", limit=1)
    assert [b.id for b in page] == [other] and more
