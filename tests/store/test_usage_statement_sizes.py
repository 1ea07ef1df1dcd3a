"""Ledger batches of any size reuse a few INSERT statements (SQLite keeps each one prepared)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, literal_column, select

from plinth.store.database import open_database
from plinth.store.schema import usage
from plinth.store.usage import UsageRecord, UsageStore


def _rows(first: int, count: int) -> list[UsageRecord]:
    now = datetime.now(UTC)
    return [
        UsageRecord(f"req-{n}", now, "key", "chat.completions", "m", "ok", 200, prompt_tokens=n)
        for n in range(first, first + count)
    ]


def test_batches_of_every_size_use_at_most_nine_insert_texts(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    texts: set[str] = set()

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith("INSERT INTO usage "):
            texts.add(statement)

    event.listen(engine, "before_cursor_execute", seen)
    store, written = UsageStore(engine), 0
    for size in range(1, 301):
        store.append(_rows(written, size))
        written += size
    # One text per chunk size 1, 2, 4, ..., 256; batch sizes 1..300 alone were 300.
    assert len(texts) <= 9
    with engine.connect() as conn:
        stored = conn.execute(select(func.count(), func.sum(usage.c.prompt_tokens))).one()
    assert tuple(stored) == (written, sum(range(written)))


def test_a_batch_keeps_its_rows_and_their_order(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    UsageStore(engine).append(_rows(0, 300))
    with engine.connect() as conn:
        ids = list(
            conn.execute(select(usage.c.request_id).order_by(literal_column("rowid"))).scalars()
        )
    assert ids == [f"req-{n}" for n in range(300)]
