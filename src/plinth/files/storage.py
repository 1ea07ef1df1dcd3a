"""Where file bytes live. One interface, so object stores can come later.

The default keeps each file as one plain file under ``<data_dir>/files/``,
written to a temporary name and renamed into place, so a crash mid-upload
never leaves a half file under a real id.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol


class TooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class FileStorage(Protocol):
    async def save(self, file_id: str, chunks: AsyncIterator[bytes], limit: int) -> tuple[int, str]:
        """Store the bytes; return (size, sha256 hex). Raises TooLarge past ``limit``."""
        ...

    def path(self, file_id: str) -> Path:
        """A local path to read the bytes from."""
        ...

    def delete(self, file_id: str) -> None: ...


def _sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


class LocalFileStorage:
    def __init__(self, root: Path):
        self.root = root

    def path(self, file_id: str) -> Path:
        return self.root / file_id

    async def save(self, file_id: str, chunks: AsyncIterator[bytes], limit: int) -> tuple[int, str]:
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{file_id}.partial"
        digest, size = hashlib.sha256(), 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(limit)
                    digest.update(chunk)
                    # Disk writes (and the fsync) off the event loop.
                    await asyncio.to_thread(out.write, chunk)
                await asyncio.to_thread(_sync, out)
            partial.rename(self.path(file_id))
        finally:
            partial.unlink(missing_ok=True)
        return size, digest.hexdigest()

    def delete(self, file_id: str) -> None:
        self.path(file_id).unlink(missing_ok=True)
