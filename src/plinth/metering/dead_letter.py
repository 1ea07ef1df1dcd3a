"""Ledger rows the database will never take: set aside, so the rest keeps flowing.

A row is *poison* when writing it alone fails with an error about the row
itself (a value the database refuses: a lone UTF-8 surrogate, a NUL byte in
PostgreSQL text, a constraint) rather than about the database (unreachable,
locked, disk full: *transient*, retried until it works). Retrying a poison
row forever blocked every row queued behind it; now it goes to
``dead-letter.jsonl`` beside the journal (the same JSON as a journal line,
plus the error), with an error log line and the
``plinth_ledger_dead_letters_total`` metric, and the recorder moves on.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from plinth.metering.journal import encode
from plinth.paths import FILE_MODE, private_dir
from plinth.store.usage import UsageRecord

log = logging.getLogger(__name__)

#: Errors about the database or the disk, not about one row: retry, never set aside.
TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, OSError)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


class DeadLetters:
    """Where poison rows go: a file (if there is a folder for it), a log line, a count."""

    def __init__(self, folder: Path | None):
        self.path = folder / "dead-letter.jsonl" if folder is not None else None
        self.count = 0
        self.on_dead_letter: Callable[[], None] | None = None  # e.g. a metric's ``inc``

    def put(self, row: UsageRecord, error: BaseException) -> None:
        self.count += 1
        if self.on_dead_letter is not None:
            self.on_dead_letter()
        line = encode(row)
        reason = f"{type(error).__name__}: {error}"[:500]
        if self.path is None:
            log.error(
                "ledger row %s set aside, the database refuses it (%s): %s",
                row.request_id,
                reason,
                line.decode("ascii").strip(),
            )
            return
        entry = {
            "set_aside_at": datetime.now(UTC).isoformat(),
            "error": reason,
            "row": json.loads(line),
        }
        try:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                os.write(fd, json.dumps(entry).encode("ascii") + b"\n")
                os.fsync(fd)  # rare, and nowhere else holds this row any more
            finally:
                os.close(fd)
        except OSError:
            log.exception("writing %s failed; the row follows", self.path)
            log.error("set-aside ledger row: %s", line.decode("ascii").strip())
        log.error(
            "ledger row %s set aside in %s, the database refuses it (%s)",
            row.request_id,
            self.path,
            reason,
        )
