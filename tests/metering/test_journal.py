"""The ledger journal: what the README promises about a killed process, a replay and
a row the database refuses.

- A row is journaled (one write into the OS page cache) before ``record``'s
  future resolves, i.e. before the response's last byte; a process killed
  with SIGKILL before its commit loses none of them: the next start replays
  them, once each.
- The journal is fsynced on a timer (what a power loss can take is the last
  interval), and a segment is deleted once its rows are committed.
- A poison row goes to ``dead-letter.jsonl``; the rows behind it are stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plinth.metering.journal import HEADER, Journal, decode, encode, read_rows
from plinth.metering.recorder import UsageRecorder
from plinth.store.audit import AuditRecord
from plinth.store.database import open_database
from plinth.store.door import Database
from plinth.store.usage import AttemptRecord, UsageRecord, UsageStore

pytestmark = pytest.mark.anyio


def row(request_id: str, model: str = "m") -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        created_at=datetime.now(UTC),
        key_id="key_x",
        endpoint="chat.completions",
        model=model,
        status="ok",
        http_status=200,
        prompt_tokens=3,
        completion_tokens=4,
        latency_ms=1.5,
    )


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def db(db_file: Path) -> Engine:
    return open_database(f"sqlite:///{db_file}")


def stored_ids(db: Engine) -> list[str]:
    with db.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT request_id FROM usage")]


def test_a_journal_line_holds_the_whole_row(tmp_path: Path) -> None:
    when = datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC)
    full = row("req_full", model="m\ud800")  # a lone surrogate survives the journal
    full.created_at = when
    full.failed_attempts = [
        AttemptRecord("req_full", 1, when - timedelta(seconds=1), "dep", "timeout", 504, "t", 9.5)
    ]
    full.audit = AuditRecord(
        "req_full", when, "key_x", "chat.completions", "m", "redact", "redacted",
        {"email": 2}, [{"type": "email", "hash": "ab"}], "dep", "cloud", True,
    )  # fmt: skip
    line = encode(full)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == full
    # What the journal writes: a header naming the fields, then the row as an array.
    journal = Journal(tmp_path / "journal")
    journal.open()
    segment = journal.append(full)
    journal.append(row("req_next"))
    lines = segment.path.read_bytes().splitlines(keepends=True)
    assert lines[0] == HEADER and lines[1].startswith(b'["req_full",')
    assert len(lines[1]) < len(line) / 1.5  # the field names are not repeated
    replayed = read_rows(segment.path)
    assert [r.request_id for r in replayed] == ["req_full", "req_next"]
    assert replayed[0] == full
    journal.close()


async def test_a_row_is_journaled_before_its_future_resolves(db: Engine, tmp_path: Path) -> None:
    recorder = UsageRecorder(UsageStore(db), Database(db), journal=tmp_path / "journal")
    await recorder.start()
    stored = recorder.record(row("req_1"))
    assert stored.done()  # nothing to wait for: the row is the kernel's
    segments = list((tmp_path / "journal").glob("*.jsonl"))
    assert [r.request_id for s in segments for r in read_rows(s)] == ["req_1"]
    await recorder.flush()
    assert stored_ids(db) == ["req_1"]
    await recorder.close()
    assert not list((tmp_path / "journal").glob("*.jsonl"))  # committed: nothing to replay
    assert not list((tmp_path / "journal").glob("*.lock"))


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from datetime import UTC, datetime
    from plinth.metering.recorder import UsageRecorder
    from plinth.store.database import open_database
    from plinth.store.door import Database
    from plinth.store.usage import UsageRecord, UsageStore

    async def main() -> None:
        engine = open_database(sys.argv[1])
        recorder = UsageRecorder(UsageStore(engine), Database(engine), journal=Path(sys.argv[2]))
        await recorder.start()
        print("ready", flush=True)
        sys.stdin.readline()  # the parent now holds SQLite's write lock
        for n in range(50):
            row = UsageRecord(f"req_k{n}", datetime.now(UTC), "key_x", "chat.completions",
                              "m", "ok", 200, 1, 1)
            await recorder.record(row)  # what a response waits for before its last byte
            print(row.request_id, flush=True)  # "delivered"
        await asyncio.sleep(60)  # killed here: no commit got through

    asyncio.run(main())
    """
)


async def test_sigkill_before_the_commit_loses_no_delivered_row(
    db: Engine, db_file: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, f"sqlite:///{db_file}", str(journal)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    holder = sqlite3.connect(db_file, isolation_level=None)
    try:
        assert child.stdout.readline().strip() == "ready"
        holder.execute("BEGIN IMMEDIATE")  # the child's commits wait on this lock
        child.stdin.write("go\n")
        child.stdin.flush()
        delivered = [child.stdout.readline().strip() for _ in range(50)]
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        child.kill()
    assert delivered == [f"req_k{n}" for n in range(50)]
    assert stored_ids(db) == []  # the kill came before any commit: only the journal has them

    recorder = UsageRecorder(UsageStore(db), Database(db), journal=journal)
    await recorder.start()  # adopts the dead process's journal
    await recorder.flush()
    assert sorted(stored_ids(db)) == sorted(delivered)
    await recorder.close()
    assert not list(journal.glob("*.jsonl")) and not list(journal.glob("*.lock"))


async def test_replay_is_idempotent_by_request_id(db: Engine, tmp_path: Path) -> None:
    """A dead process's journal holds rows the database already has (committed just
    before the kill): the replay adds the others, once each."""
    journal = tmp_path / "journal"
    journal.mkdir()
    (journal / "deadbeef.lock").touch()  # its process is gone: nobody holds the flock
    (journal / "cafebabe.new").touch()  # one that died while taking its lock
    rows = [row(f"req_r{n}") for n in range(6)]
    (journal / "deadbeef-1.jsonl").write_bytes(b"".join(encode(r) for r in rows[:4]))
    (journal / "deadbeef-2.jsonl").write_bytes(
        b"".join(encode(r) for r in rows[4:]) + b'{"request_id": "req_torn", "crea'
    )  # a line torn by a power loss: skipped
    UsageStore(db).append(rows[:3])  # committed before the kill
    for _ in range(2):  # a second start finds nothing left to replay
        recorder = UsageRecorder(UsageStore(db), Database(db), journal=journal)
        await recorder.start()
        await recorder.flush()
        await recorder.close()
        assert sorted(stored_ids(db)) == [f"req_r{n}" for n in range(6)]
        assert sorted(p.name for p in journal.iterdir()) == []


async def test_a_live_processs_journal_is_not_adopted(db: Engine, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    live = UsageRecorder(UsageStore(db), Database(db), journal=journal)
    await live.start()
    live.record(row("req_live"))  # journaled, not committed yet
    other = UsageRecorder(UsageStore(db), Database(db), journal=journal)
    await other.start()  # shares the folder (replicas on one data dir)
    await other.flush()
    assert stored_ids(db) == []  # the live process commits its own rows
    await live.close()
    await other.close()
    assert stored_ids(db) == ["req_live"]


async def test_the_journal_is_fsynced_on_a_timer(db: Engine, tmp_path: Path) -> None:
    recorder = UsageRecorder(
        UsageStore(db), Database(db), journal=tmp_path / "journal", sync_interval_s=0.05
    )
    await recorder.start()
    journal = recorder.journal
    assert journal is not None
    recorder.record(row("req_s"))
    assert journal.dirty()  # written, not yet on the disk
    for _ in range(100):
        if not journal.dirty():
            break
        await asyncio.sleep(0.02)
    assert not journal.dirty()
    await recorder.close()


async def test_committed_segments_are_deleted_while_running(
    db: Engine, db_file: Path, tmp_path: Path
) -> None:
    """Only once their rows are durable: on SQLite (WAL, synchronous=NORMAL, commits
    not fsynced) that is in the database file itself after a checkpoint, not in the WAL."""
    folder = tmp_path / "journal"
    recorder = UsageRecorder(UsageStore(db), Database(db), journal=folder, segment_bytes=2000)
    await recorder.start()
    for n in range(40):  # about 300 bytes a row: a dozen segments
        recorder.record(row(f"req_g{n}"))
        await asyncio.sleep(0)
    await recorder.flush()
    for _ in range(100):  # the writer task deletes what is committed
        if len(list(folder.glob("*.jsonl"))) == 1:
            break
        await asyncio.sleep(0.02)
    assert len(list(folder.glob("*.jsonl"))) == 1  # only the one being written
    main_file_only = tmp_path / "copy.db"
    main_file_only.write_bytes(db_file.read_bytes())  # without its -wal file
    with sqlite3.connect(main_file_only) as copy:
        in_file = {r[0] for r in copy.execute("SELECT request_id FROM usage")}
    deleted_rows = 40 - len(read_rows(next(folder.glob("*.jsonl"))))
    assert deleted_rows > 0 and len(in_file) >= deleted_rows
    await recorder.close()
    assert len(stored_ids(db)) == 40


async def test_a_poison_row_is_set_aside_and_the_rest_flows(
    db: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "journal"
    recorder = UsageRecorder(UsageStore(db), Database(db), journal=folder)
    counted: list[int] = []
    recorder.dead_letters.on_dead_letter = lambda: counted.append(1)
    await recorder.start()
    caplog.set_level(logging.ERROR)
    recorder.record(row("req_a"))
    recorder.record(row("req_poison", model="bad\ud800"))  # SQLite cannot encode it
    recorder.record(row("req_b"))
    await asyncio.wait_for(recorder.flush(), 10)  # no endless retry
    recorder.record(row("req_poison2", model="\ud801"))  # alone in its batch
    recorder.record(row("req_c"))
    await asyncio.wait_for(recorder.flush(), 10)
    assert sorted(stored_ids(db)) == ["req_a", "req_b", "req_c"]
    assert recorder.dead_letters.count == 2 and len(counted) == 2
    lines = (folder / "dead-letter.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["row"]["request_id"] for e in entries] == ["req_poison", "req_poison2"]
    assert entries[0]["row"]["model"] == "bad\ud800" and "UnicodeEncodeError" in entries[0]["error"]
    assert "req_poison" in caplog.text and "set aside" in caplog.text
    await recorder.close()
    assert not list(folder.glob("*.jsonl.*")) and (folder / "dead-letter.jsonl").exists()
    assert os.stat(folder / "dead-letter.jsonl").st_mode & 0o077 == 0  # rows are private


async def test_an_unusable_journal_falls_back_to_waiting_for_the_commit(
    db: Engine, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    recorder = UsageRecorder(UsageStore(db), Database(db), journal=blocker / "journal")
    await recorder.start()
    assert recorder.journal is None
    stored = recorder.record(row("req_f"))
    assert not stored.done()
    await asyncio.wait_for(stored, 10)
    assert stored_ids(db) == ["req_f"]
    await recorder.close()
