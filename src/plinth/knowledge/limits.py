"""How much work one uploaded file may cost to read: the bounds checked while parsing.

Any key holder may upload a 1 MB ``.docx`` that inflates to 1 GB, a PDF whose
streams inflate the same way, or a document nested a million levels deep. So
every parser in :mod:`plinth.knowledge.parsing` checks these limits *before*
inflating where the format declares sizes (a zip's central directory), and
counts what it really inflates as it streams (declared sizes can lie).
Exceeding one is an :class:`~plinth.errors.InvalidFile` whose message names
the limit (the setting ``uploads.<name>``), so the file ends ``failed`` with
``invalid_file`` instead of exhausting the server's memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from plinth.errors import InvalidFile

MIB = 1024 * 1024
#: Members smaller than this are never refused for their compression ratio:
#: a small, very repetitive XML part is normal and harmless.
RATIO_EXEMPT_BYTES = MIB


@dataclass(frozen=True)
class UploadLimits:
    #: Members of an archive (a .docx is a zip).
    max_archive_members: int = 2_000
    #: Bytes inflated from one file in total: an archive's members, a PDF's streams.
    max_inflated_bytes: int = 64 * MIB
    #: Inflated size / compressed size of one archive member (a zip bomb is ~1000).
    max_compression_ratio: int = 200
    #: Nesting of elements (XML, HTML) or of arrays/objects (JSON).
    max_nesting_depth: int = 100
    #: Pages of a PDF.
    max_pdf_pages: int = 2_000
    #: Bytes one PDF stream may inflate to (pypdf's per-stream limit).
    max_pdf_stream_bytes: int = 16 * MIB
    #: Characters of extracted text (what is chunked, embedded and stored).
    max_text_chars: int = 8_000_000


def exceeded(name: str, limit: int, what: str) -> InvalidFile:
    """The error for one limit, naming its setting so an operator can raise it."""
    return InvalidFile(f"{what} exceeds the upload limit uploads.{name} ({limit:,})")


class TextBudget:
    """Collects extracted text, refusing past ``max_text_chars``."""

    def __init__(self, limits: UploadLimits):
        self._limit = limits.max_text_chars
        self._size = 0
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self._size += len(text)
        if self._size > self._limit:
            raise exceeded("max_text_chars", self._limit, "the file's extracted text")
        self.parts.append(text)


def bounded_chunks(
    stream: IO[bytes], budget: list[int], limits: UploadLimits, *, size: int = 64 * 1024
) -> Iterator[bytes]:
    """Read ``stream`` in pieces, counting every inflated byte against ``budget[0]``.

    ``budget`` is a one-item list shared by all members of one file, so the
    limit is on the file's total, whatever its central directory claims.
    """
    while piece := stream.read(size):
        budget[0] += len(piece)
        if budget[0] > limits.max_inflated_bytes:
            raise exceeded(
                "max_inflated_bytes", limits.max_inflated_bytes, "the file's inflated content"
            )
        yield piece
