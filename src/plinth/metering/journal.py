"""The ledger's local journal: a row is the kernel's before its response goes out.

Why: waiting for the database commit put a commit (and the console's rollup
triggers) on every response's path. Appending one line to a local file is
one ``os.write`` into the OS page cache: once it returns, a killed process
(SIGKILL included) cannot lose the row, only a power loss or a kernel crash
can. The recorder then commits rows to the database in the background (group
commit), and a process that starts adopts and replays the rows that a dead
one journaled but never committed (idempotent by request id).

Layout of one folder (``<data_dir>/ledger-journal``): each process holds
``<instance>.lock`` with an exclusive ``flock`` (the kernel drops it when the
process dies, however it dies) and appends to ``<instance>-<n>.jsonl``
segments. A lock file that another process can lock belongs to a dead one,
so its segments are adopted. Several processes may share the folder, or each
have its own (replicas on one PostgreSQL).

Lines: each segment starts with a header naming the fields, then one JSON
array per row, its values in the header's order (:func:`encode_compact`):
about half the CPU of a JSON object per row, which named every field again
on every request. :func:`encode` (an object per row) is what the dead
letters hold, and lines in that form (older segments) still replay.

For a power loss: :meth:`Journal.sync` (called on a timer by the recorder)
fsyncs what was written, so only the rows of about the last interval can be
lost; a segment is deleted only after all its rows are committed and the
database has made them durable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from plinth.json_encode import compact_encoder
from plinth.paths import FILE_MODE, private_dir
from plinth.store.audit import AuditRecord
from plinth.store.usage import AttemptRecord, UsageRecord

log = logging.getLogger(__name__)

#: A segment is sealed (and a new one started) past this size, so a segment
#: whose rows are all committed can be deleted while the process runs on.
SEGMENT_BYTES = 4 << 20


# One encoder for every line: json.dumps with arguments builds a new one per call.
_ENCODE = compact_encoder(ensure_ascii=True)


def encode(row: UsageRecord) -> bytes:
    """One journal line: the row, its failed attempts and its audit record, as JSON."""
    values: dict[str, Any] = dict(row.__dict__)
    values["created_at"] = row.created_at.isoformat()
    values["failed_attempts"] = [
        {**attempt.__dict__, "created_at": attempt.created_at.isoformat()}
        for attempt in row.failed_attempts
    ]
    if row.audit is not None:
        values["audit"] = {**row.audit.__dict__, "created_at": row.audit.created_at.isoformat()}
    # ensure_ascii keeps a lone surrogate (a poison row) encodable, to be dead-lettered later.
    return _ENCODE(values).encode("ascii") + b"\n"


def decode(line: bytes, header: Header | None = None) -> UsageRecord:
    """The row a journal line holds (``ValueError``/``TypeError``/``KeyError`` if it is torn):
    an object, or an array in the order of its segment's ``header``."""
    values = json.loads(line)
    if isinstance(values, list):
        if header is None:
            raise ValueError("a row as an array, and no header before it")
        values = header.named(values)
    values["created_at"] = datetime.fromisoformat(values["created_at"])
    values["failed_attempts"] = [
        AttemptRecord(**{**a, "created_at": datetime.fromisoformat(a["created_at"])})
        for a in values["failed_attempts"]
    ]
    audit = values.get("audit")
    if audit is not None:
        values["audit"] = AuditRecord(
            **{**audit, "created_at": datetime.fromisoformat(audit["created_at"])}
        )
    return UsageRecord(**values)


# --- compact lines: a header per segment, then one array per row ------------------

_NESTED = ("failed_attempts", "audit")
_ROW_FIELDS = tuple(f.name for f in fields(UsageRecord) if f.name not in _NESTED)
_ATTEMPT_FIELDS = tuple(f.name for f in fields(AttemptRecord))
_AUDIT_FIELDS = tuple(f.name for f in fields(AuditRecord))
_row_values = attrgetter(*_ROW_FIELDS)
_attempt_values = attrgetter(*_ATTEMPT_FIELDS)
_audit_values = attrgetter(*_AUDIT_FIELDS)
_ROW_AT = _ROW_FIELDS.index("created_at")
_ATTEMPT_AT = _ATTEMPT_FIELDS.index("created_at")
_AUDIT_AT = _AUDIT_FIELDS.index("created_at")
#: A segment's first line: which field each array position holds.
HEADER = (
    _ENCODE(
        {"journal": 2, "row": _ROW_FIELDS, "attempt": _ATTEMPT_FIELDS, "audit": _AUDIT_FIELDS}
    ).encode("ascii")
    + b"\n"
)


@dataclass(frozen=True)
class Header:
    """The field names of a segment's arrays, as its header line gives them."""

    row: tuple[str, ...]
    attempt: tuple[str, ...]
    audit: tuple[str, ...]

    @classmethod
    def parse(cls, line: bytes) -> Header | None:
        """The header a line is, or None (a row)."""
        if not line.startswith(b'{"journal":'):
            return None
        names = json.loads(line)
        return cls(tuple(names["row"]), tuple(names["attempt"]), tuple(names["audit"]))

    def named(self, values: list[Any]) -> dict[str, Any]:
        """A row array as :func:`encode`'s object."""
        *scalars, attempts, audit = values
        if len(scalars) != len(self.row):
            raise ValueError(f"a row of {len(scalars)} values for {len(self.row)} fields")
        named = dict(zip(self.row, scalars, strict=True))
        named["failed_attempts"] = [dict(zip(self.attempt, a, strict=True)) for a in attempts]
        named["audit"] = dict(zip(self.audit, audit, strict=True)) if audit is not None else None
        return named


def encode_compact(row: UsageRecord) -> bytes:
    """One journal line after a segment's :data:`HEADER`: the row as an array."""
    at = row.created_at.isoformat()
    values: list[Any] = list(_row_values(row))
    values[_ROW_AT] = at
    attempts = []
    for attempt in row.failed_attempts:
        fields_of = list(_attempt_values(attempt))
        fields_of[_ATTEMPT_AT] = attempt.created_at.isoformat()
        attempts.append(fields_of)
    values.append(attempts)
    audit = row.audit
    if audit is None:
        values.append(None)
    else:
        audit_values = list(_audit_values(audit))
        created = audit.created_at
        audit_values[_AUDIT_AT] = at if created == row.created_at else created.isoformat()
        values.append(audit_values)
    # ensure_ascii keeps a lone surrogate (a poison row) encodable, to be dead-lettered later.
    return _ENCODE(values).encode("ascii") + b"\n"


@dataclass(eq=False)
class Segment:
    """One journal file and how many of its rows still wait for the database."""

    path: Path
    fd: int
    size: int = 0
    synced: int = 0  # bytes known to be on the disk
    outstanding: int = 0  # rows appended, not yet committed nor dead-lettered
    sealed: bool = False  # no more appends: deletable once ``outstanding`` is 0
    adopted: bool = False  # a dead process's: the database may hold some of its rows
    lock: _Lock | None = None  # the dead owner's lock, for an adopted segment


@dataclass(eq=False)
class _Lock:
    path: Path
    fd: int
    segments: set[Path] = field(default_factory=set)


class Journal:
    """This process's append-only journal of ledger rows (one instance per recorder)."""

    def __init__(self, folder: Path, *, segment_bytes: int = SEGMENT_BYTES):
        self.folder = folder
        self._segment_bytes = segment_bytes
        self._instance = uuid.uuid4().hex[:16]
        self._own: _Lock | None = None
        self._adopted: list[_Lock] = []  # dead processes' locks, held while their rows replay
        self._segments: list[Segment] = []
        self._current: Segment | None = None
        self._serial = 0
        self._folder_dirty = False  # a file was created or deleted since the last sync

    def open(self) -> list[tuple[Segment, list[UsageRecord]]]:
        """Take this process's lock; adopt the dead processes' segments and return their rows.

        The rows of an adopted segment count as outstanding in it, so it is
        deleted once the recorder has committed them (again: the database
        drops the ones it has).
        """
        private_dir(self.folder)
        for _ in range(3):  # a process starting at that moment may clear our ".new"
            try:
                self._own = _new_lock(self.folder / f"{self._instance}.lock")
                break
            except FileNotFoundError:
                self._instance = uuid.uuid4().hex[:16]
        else:
            raise OSError(f"could not take a journal lock in {self.folder}")
        for fresh in self.folder.glob("*.new"):  # a process died while taking its lock
            stale = _take_lock(fresh)
            if stale is not None:
                _drop_lock(stale)
        adopted = []
        for lock_path in sorted(self.folder.glob("*.lock")):
            if lock_path == self._own.path:
                continue
            lock = _take_lock(lock_path)
            if lock is None:  # its process is alive
                continue
            owner = lock_path.stem
            for path in sorted(self.folder.glob(f"{owner}-*.jsonl"), key=_serial_of):
                rows = read_rows(path)
                # Its size as unsynced: the dead process may not have fsynced it,
                # so the next sync does (fdatasync flushes the file, whoever wrote it).
                fd, size = os.open(path, os.O_RDONLY), path.stat().st_size
                segment = Segment(path, fd, size, sealed=True, adopted=True, lock=lock)
                segment.outstanding = len(rows)
                lock.segments.add(path)
                self._segments.append(segment)
                adopted.append((segment, rows))
            if lock.segments:
                self._adopted.append(lock)
            else:
                _drop_lock(lock)
        return adopted

    def append(self, row: UsageRecord) -> Segment:
        """Write one row with one ``os.write``; the segment it is in (``OSError`` if not)."""
        line = encode_compact(row)
        segment = self._current
        if segment is None or segment.size + len(line) > self._segment_bytes:
            segment = self._start_segment()
        written = os.write(segment.fd, line)
        segment.size += written
        if written != len(line):  # disk full mid-line: the line is torn, replay skips it
            segment.sealed, self._current = True, None  # the next row starts a clean file
            raise OSError(f"short write to {segment.path}")
        segment.outstanding += 1
        return segment

    def _start_segment(self) -> Segment:
        if self._own is None:
            raise OSError("the journal is not open")
        if self._current is not None:
            self._current.sealed = True
        self._serial += 1
        path = self.folder / f"{self._instance}-{self._serial}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, FILE_MODE)
        if os.write(fd, HEADER) != len(HEADER):  # a torn header: the file holds no row yet
            os.close(fd)
            path.unlink(missing_ok=True)
            raise OSError(f"short write to {path}")
        self._current = Segment(path, fd, size=len(HEADER), lock=self._own)
        self._own.segments.add(path)
        self._segments.append(self._current)
        self._folder_dirty = True
        return self._current

    def dirty(self) -> bool:
        return self._folder_dirty or any(s.synced < s.size for s in list(self._segments))

    def sync(self) -> None:
        """fsync what was written (run off the event loop; never with ``remove``)."""
        if self._folder_dirty:
            self._folder_dirty = False
            _sync_folder(self.folder)
        for segment in list(self._segments):
            size = segment.size
            if segment.synced < size:
                os.fdatasync(segment.fd)
                segment.synced = size

    def done(self) -> list[Segment]:
        """Segments whose rows are all in the database: sealed, nothing outstanding."""
        return [s for s in self._segments if s.sealed and s.outstanding == 0]

    def seal(self) -> None:
        """No more appends to the current segment (shutdown, once the queue is empty)."""
        if self._current is not None:
            self._current.sealed = True
            self._current = None

    def remove(self, segments: list[Segment]) -> None:
        """Delete segments whose rows the database holds durably."""
        for segment in segments:
            self._segments.remove(segment)
            os.close(segment.fd)
            segment.path.unlink(missing_ok=True)
            self._folder_dirty = True
            lock = segment.lock
            if lock is not None:
                lock.segments.discard(segment.path)
                if not lock.segments and lock is not self._own:
                    self._adopted.remove(lock)
                    _drop_lock(lock)

    def close(self) -> None:
        """Close the files; an empty journal leaves nothing behind, else it is replayed later."""
        for segment in self._segments:
            os.close(segment.fd)
        self._segments.clear()
        self._current = None
        for lock in self._adopted:  # rows left: the next process to start adopts them
            os.close(lock.fd)
        self._adopted.clear()
        if self._own is not None:
            if not self._own.segments:
                self._own.path.unlink(missing_ok=True)
            os.close(self._own.fd)  # releases the flock: another process may adopt the rest
            self._own = None


def read_rows(path: Path) -> list[UsageRecord]:
    """The rows of one segment; a line that does not decode (torn by a crash) is logged."""
    rows = []
    header = None
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        try:
            if number == 1 and (header := Header.parse(line)) is not None:
                continue
            rows.append(decode(line, header))
        except (ValueError, TypeError, KeyError):
            log.error("ledger journal %s line %d unreadable, skipped: %.200r", path, number, line)
    return rows


def _serial_of(path: Path) -> int:
    tail = path.stem.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _new_lock(path: Path) -> _Lock:
    """This process's lock: locked under another name first, so that no process
    starting at the same moment can see it unlocked and take it for a dead one's."""
    fresh = path.with_suffix(".new")
    fd = os.open(fresh, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(fresh, path)  # the flock belongs to the file, and follows it
    except OSError:  # BlockingIOError, or FileNotFoundError: taken for a dead one's
        os.close(fd)
        raise FileNotFoundError(fresh) from None
    return _Lock(path, fd)


def _take_lock(path: Path) -> _Lock | None:
    """An exclusive flock on ``path`` (created if missing), or None if a live process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return _Lock(path, fd)


def _drop_lock(lock: _Lock) -> None:
    lock.path.unlink(missing_ok=True)
    os.close(lock.fd)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
