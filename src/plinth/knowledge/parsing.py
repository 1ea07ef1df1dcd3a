"""Extracting plain text from uploaded files: txt, md, html, pdf, docx, json.

The format comes from the file name's extension (what OpenAI's file search
goes by). Text files are decoded as UTF-8 (with or without a BOM), then
GB18030 (a superset of GBK/GB2312, common for Chinese files), then Latin-1
as the last resort so a text file never fails to decode. A PDF without a
text layer (a scan) yields no text: that is an error, not an empty file,
because OCR is not done here.
"""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import PurePath
from typing import ClassVar


class ParseError(ValueError):
    """The file's format is unsupported, or its content could not be read."""


TEXT_EXTENSIONS = {".txt", ".md", ".markdown", ".text", ".csv", ".log", ".rst"}
SUPPORTED = TEXT_EXTENSIONS | {".html", ".htm", ".pdf", ".docx", ".json"}


def decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class _HTMLText(HTMLParser):
    _SKIP: ClassVar[frozenset[str]] = frozenset({"script", "style", "noscript", "template", "head"})
    _BLOCK: ClassVar[frozenset[str]] = frozenset(
        [
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "table",
            "ul",
            "ol",
            "pre",
            "blockquote",
            "title",
        ]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise ParseError(f"not a readable PDF: {exc}") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise ParseError("the PDF has no text layer (scanned pages need OCR, not done here)")
    return text


def docx_text(data: bytes) -> str:
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseError(f"not a readable .docx: {exc}") from exc
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(parts)


def _json_lines(value: object, path: str, out: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _json_lines(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _json_lines(item, f"{path}[{index}]", out)
    elif value is not None:
        out.append(f"{path}: {value}" if path else str(value))


def json_text(data: bytes) -> str:
    """One ``path: value`` line per leaf, so keys are searchable next to their values."""
    try:
        value = json.loads(decode_text(data))
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from exc
    lines: list[str] = []
    _json_lines(value, "", lines)
    return "\n".join(lines)


def parse(data: bytes, filename: str) -> str:
    """The plain text of ``data``, by ``filename``'s extension."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in TEXT_EXTENSIONS:
        return decode_text(data)
    if suffix in (".html", ".htm"):
        return html_text(decode_text(data))
    if suffix == ".pdf":
        return pdf_text(data)
    if suffix == ".docx":
        return docx_text(data)
    if suffix == ".json":
        return json_text(data)
    raise ParseError(
        f"unsupported file type '{suffix or filename}'; supported: {', '.join(sorted(SUPPORTED))}"
    )
