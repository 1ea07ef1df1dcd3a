"""Where file bytes live. One interface, so object stores can come later.

The default keeps each file as one plain file under ``<data_dir>/files/``,
written to a temporary name and renamed into place, so a crash mid-upload
never leaves a half file under a real id. Folders are created 0700 and files
0600 (:mod:`plinth.paths`).

Disk writes and the fsync run on this storage's own small thread pool, not on
the database door's: a large upload's writes must not queue the ledger
commits and key look-ups of every other request behind them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

from plinth.errors import PayloadTooLarge
from plinth.paths import private_dir, private_file

T = TypeVar("T")


class FileStorage(Protocol):
    async def save(self, file_id: str, chunks: AsyncIterator[bytes], limit: int) -> tuple[int, str]:
        """Store the bytes; return (size, sha256 hex). Raises PayloadTooLarge past ``limit``."""
        ...

    def path(self, file_id: str) -> Path:
        """A local path to read the bytes from."""
        ...

    def delete(self, file_id: str) -> None: ...


def _sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


class LocalFileStorage:
    def __init__(self, root: Path, *, threads: int = 2):
        self.root = root
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="plinth-files")

    def path(self, file_id: str) -> Path:
        return self.root / file_id

    async def _io(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    async def save(self, file_id: str, chunks: AsyncIterator[bytes], limit: int) -> tuple[int, str]:
        await self._io(private_dir, self.root)
        partial = self.root / f".{file_id}.partial"
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(await self._io(private_file, partial), "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"Files may be at most {limit} bytes")
                    digest.update(chunk)
                    await self._io(out.write, chunk)
                await self._io(_sync, out)
            await self._io(partial.rename, self.path(file_id))
        finally:
            partial.unlink(missing_ok=True)
        return size, digest.hexdigest()

    def delete(self, file_id: str) -> None:
        self.path(file_id).unlink(missing_ok=True)

    def close(self) -> None:
        """Wait for the writes in flight, then release the threads."""
        self._pool.shutdown(wait=True)
