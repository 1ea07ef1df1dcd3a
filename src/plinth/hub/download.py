"""One file from a hub: resumable, and checked before it is used.

Bytes go to ``<name>.part`` next to the destination. A later run sends
``Range: bytes=<what we have>-`` and appends if the server answers 206 (a 200
means it ignored the range: start again). The finished file's size and sha256
must match the hub's listing (or, for a file the listing gave no hash for,
the ``X-Linked-Etag``/``ETag`` sha256 Hugging Face sends); a file that does
not match is deleted and refused, never renamed into place.
"""

from __future__ import annotations

import hashlib
import re
from http.client import HTTPException, HTTPResponse
from pathlib import Path

from tqdm import tqdm

from plinth.errors import UpstreamBadResponse, UpstreamUnreachable
from plinth.hub.http import open_url
from plinth.hub.sources import HubFile

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _hash_of(path: Path, digest: hashlib._Hash) -> None:
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)


def _header_sha256(response: HTTPResponse) -> str | None:
    for name in ("X-Linked-Etag", "ETag"):
        value = (response.headers.get(name) or "").strip().removeprefix("W/").strip('"').lower()
        if _SHA256.match(value):
            return value
    return None


def _open(url: str, headers: dict[str, str], have: int) -> tuple[HTTPResponse, int]:
    """The response and the offset its body starts at (0 if the range was ignored)."""
    ranged = {**headers, "Range": f"bytes={have}-"} if have else headers
    response = open_url(url, ranged)
    if have and response.status == 206:
        return response, have
    return response, 0


def download(
    url: str, headers: dict[str, str], file: HubFile, dest: Path, *, progress: bool = True
) -> Path:
    """``dest``, complete and verified; resumes a ``.part`` left by an earlier run."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if file.size is not None and have > file.size:
        part.unlink()  # not a prefix of this file
        have = 0
    digest = hashlib.sha256()
    response, start = _open(url, headers, have)
    with response:
        if start:
            _hash_of(part, digest)
        expected = file.sha256 or _header_sha256(response)
        total = file.size
        with (
            part.open("ab" if start else "wb") as out,
            tqdm(
                total=total,
                initial=start,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=not progress,
            ) as bar,
        ):
            try:
                while block := response.read(CHUNK):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
            except (OSError, HTTPException) as exc:  # what was written stays in .part
                raise UpstreamUnreachable(
                    f"{file.path}: the download was interrupted ({exc!r}); "
                    "run the command again to resume"
                ) from None
    _verify(part, file, expected, digest.hexdigest())
    part.replace(dest)
    return dest


def _verify(part: Path, file: HubFile, expected: str | None, actual: str) -> None:
    size = part.stat().st_size
    if file.size is not None and size != file.size:
        if size > file.size:
            part.unlink()
        if size < file.size:
            raise UpstreamUnreachable(
                f"{file.path}: the download was interrupted after {size} of {file.size} bytes; "
                "run the command again to resume"
            )
        raise UpstreamBadResponse(f"{file.path}: got {size} bytes, the hub lists {file.size}")
    if expected is not None and actual != expected:
        part.unlink()
        raise UpstreamBadResponse(
            f"{file.path}: sha256 {actual} does not match the hub's {expected}; "
            "the download was deleted"
        )
