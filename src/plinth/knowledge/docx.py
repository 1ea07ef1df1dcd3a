"""Text of a ``.docx``, read within :class:`UploadLimits` without inflating it whole.

A .docx is a zip; its text is in ``word/document.xml``. Before anything is
inflated, the central directory is checked: member count, the declared total
size, and each large member's compression ratio. ``document.xml`` is then
inflated in pieces straight into an expat parser (no tree is built), every
inflated byte counted against the total, element depth and text size
bounded, and DTDs refused (no entity expansion: a "billion laughs" part
fails at its first declaration). Paragraphs come out one per line and table
rows as ``cell | cell``, in document order.
"""

from __future__ import annotations

import io
import zipfile
from xml.parsers import expat

from plinth.errors import InvalidFile
from plinth.knowledge.limits import (
    RATIO_EXEMPT_BYTES,
    TextBudget,
    UploadLimits,
    bounded_chunks,
    exceeded,
)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCUMENT = "word/document.xml"


def check_archive(archive: zipfile.ZipFile, limits: UploadLimits) -> None:
    """Refuse by the central directory alone, before inflating a byte."""
    members = archive.infolist()
    if len(members) > limits.max_archive_members:
        raise exceeded(
            "max_archive_members", limits.max_archive_members, "the archive's member count"
        )
    declared = sum(m.file_size for m in members)
    if declared > limits.max_inflated_bytes:
        raise exceeded(
            "max_inflated_bytes", limits.max_inflated_bytes, "the archive's declared size"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_EXEMPT_BYTES and ratio > limits.max_compression_ratio:
            raise exceeded(
                "max_compression_ratio",
                limits.max_compression_ratio,
                f"the compression ratio of '{member.filename}' ({ratio:.0f})",
            )


class _DocumentText:
    """Expat callbacks collecting paragraphs and table rows, depth and size bounded."""

    def __init__(self, limits: UploadLimits):
        self.limits = limits
        self.out = TextBudget(limits)
        self.depth = 0
        self.in_text = False
        self.paragraph: list[str] = []
        self.paragraph_chars = 0
        self.cells: list[list[str]] = []  # open table cells' paragraphs (innermost last)
        self.rows: list[list[str]] = []  # open table rows' finished cells

    def start(self, name: str, _attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > self.limits.max_nesting_depth:
            raise exceeded("max_nesting_depth", self.limits.max_nesting_depth, "the XML's nesting")
        local = name.rpartition(" ")[2]
        if local == "t":
            self.in_text = True
        elif local == "tab":
            self.paragraph.append("\t")
        elif local == "br":
            self.paragraph.append("\n")
        elif local == "tr":
            self.rows.append([])
        elif local == "tc":
            self.cells.append([])

    def end(self, name: str) -> None:
        self.depth -= 1
        local = name.rpartition(" ")[2]
        if local == "t":
            self.in_text = False
        elif local == "p":
            text = "".join(self.paragraph).strip()
            self.paragraph, self.paragraph_chars = [], 0
            if text and self.cells:
                self.cells[-1].append(text)
            elif text:
                self.out.add(text + "\n")
        elif local == "tc" and self.cells:
            cell = " ".join(self.cells.pop())
            if self.rows:
                self.rows[-1].append(cell)
        elif local == "tr" and self.rows:
            row = " | ".join(self.rows.pop())
            if self.cells:  # a nested table's row is text of the outer cell
                self.cells[-1].append(row)
            else:
                self.out.add(row + "\n")

    def data(self, text: str) -> None:
        if self.in_text:
            self.paragraph.append(text)
            self.paragraph_chars += len(text)
            if self.paragraph_chars > self.limits.max_text_chars:
                raise exceeded("max_text_chars", self.limits.max_text_chars, "a paragraph")


def _refuse_dtd(*_args: object) -> None:
    raise InvalidFile("the .docx's XML declares a DTD (refused: entity expansion)")


def docx_text(data: bytes, limits: UploadLimits) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidFile(f"not a readable .docx: {exc}") from exc
    with archive:
        check_archive(archive, limits)
        collector = _DocumentText(limits)
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartDoctypeDeclHandler = _refuse_dtd
        parser.EntityDeclHandler = _refuse_dtd
        parser.StartElementHandler = collector.start
        parser.EndElementHandler = collector.end
        parser.CharacterDataHandler = collector.data
        budget = [0]
        try:
            with archive.open(DOCUMENT) as member:
                for piece in bounded_chunks(member, budget, limits):
                    parser.Parse(piece, False)
            parser.Parse(b"", True)
        except KeyError:
            raise InvalidFile(f"not a readable .docx: it has no {DOCUMENT}") from None
        except (zipfile.BadZipFile, expat.ExpatError, EOFError, OSError) as exc:
            raise InvalidFile(f"not a readable .docx: {exc}") from exc
    return "".join(collector.out.parts).rstrip("\n")
