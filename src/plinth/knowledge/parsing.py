"""Extracting plain text from uploaded files: txt, md, html, pdf, docx, json.

The format comes from the file name's extension (what OpenAI's file search
goes by). Text files are decoded as UTF-8 (with or without a BOM), then
GB18030 (a superset of GBK/GB2312, common for Chinese files), then Latin-1
as the last resort so a text file never fails to decode. A PDF without a
text layer (a scan) yields no text: that is an error, not an empty file,
because OCR is not done here.

Every format is read within :class:`UploadLimits` (``limits.py``): inflated
bytes, archive members, compression ratio, nesting depth, PDF pages and the
size of the extracted text; exceeding one raises ``InvalidFile`` naming it.
:func:`extract_text` is the one entry point: it also refuses a file with no
text, so callers do not repeat that check.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import PurePath
from typing import ClassVar

from plinth.errors import InvalidFile, UnsupportedFile
from plinth.knowledge.docx import docx_text
from plinth.knowledge.limits import TextBudget, UploadLimits, exceeded

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

    # Elements that never have an end tag, and ones a sibling closes implicitly:
    # neither counts towards the nesting depth.
    _VOID: ClassVar[frozenset[str]] = frozenset(
        [
            "area",
            "base",
            "br",
            "col",
            "embed",
            "hr",
            "img",
            "input",
            "link",
            "meta",
            "source",
            "track",
            "wbr",
        ]
    )
    _SELF_CLOSING: ClassVar[frozenset[str]] = frozenset(
        ["p", "li", "dt", "dd", "tr", "td", "th", "option"]
    )

    def __init__(self, limits: UploadLimits) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._open: list[str] = []
        self._max_depth = limits.max_nesting_depth

    def _push(self, tag: str) -> None:
        if tag in self._VOID:
            return
        if tag in self._SELF_CLOSING and self._open and self._open[-1] == tag:
            self._open.pop()
        self._open.append(tag)
        if len(self._open) > self._max_depth:
            raise exceeded("max_nesting_depth", self._max_depth, "the HTML's nesting")

    def _pop(self, tag: str) -> None:
        if tag in self._open:
            while self._open.pop() != tag:
                pass

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._push(tag)
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self._pop(tag)
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str, limits: UploadLimits | None = None) -> str:
    parser = _HTMLText(limits or UploadLimits())
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def pdf_text(data: bytes, limits: UploadLimits) -> str:
    """Page texts, within the page and text limits; pypdf's own per-stream
    decompression limits are set from ``max_pdf_stream_bytes``, and every page's
    inflated content counts against ``max_inflated_bytes``."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PyPdfError

    stream = limits.max_pdf_stream_bytes
    caps = {
        "zlib_maximum_output_length": stream,
        "lzw_maximum_output_length": stream,
        "run_length_maximum_output_length": stream,
        "brotli_maximum_output_length": stream,
        "jbig2_maximum_output_length": stream,
        "array_based_stream_maximum_output_length": stream,
        "image_maximum_buffer_size": stream,
        "page_tree_maximum_entries": 2 * limits.max_pdf_pages + 16,
    }
    out, inflated = TextBudget(limits), 0
    try:
        with apply_configuration(None, **caps):
            reader = PdfReader(io.BytesIO(data))
            if len(reader.pages) > limits.max_pdf_pages:
                raise exceeded("max_pdf_pages", limits.max_pdf_pages, "the PDF's page count")
            for page in reader.pages:
                contents = page.get_contents()
                inflated += 0 if contents is None else len(contents.get_data())
                if inflated > limits.max_inflated_bytes:
                    raise exceeded(
                        "max_inflated_bytes", limits.max_inflated_bytes, "the PDF's page content"
                    )
                text = (page.extract_text() or "").strip()
                if text:
                    out.add(text + "\n\n")
    except LimitReachedError as exc:
        raise exceeded("max_pdf_stream_bytes", stream, "a PDF stream's inflated size") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidFile(f"not a readable PDF: {exc}") from exc
    text = "".join(out.parts).strip()
    if not text:
        raise InvalidFile("the PDF has no text layer (scanned pages need OCR, not done here)")
    return text


# A JSON string (skipped whole) or a bracket: enough to measure nesting in one pass.
# A string runs to its closing quote or, unterminated, to the end of the text
# (the possessive loop never backtracks), so every match moves forward and the
# scan stays linear whatever the input.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


def json_depth(text: str) -> int:
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _json_lines(value: object, path: str, out: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _json_lines(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _json_lines(item, f"{path}[{index}]", out)
    elif value is not None:
        out.append(f"{path}: {value}" if path else str(value))


def json_text(data: bytes, limits: UploadLimits) -> str:
    """One ``path: value`` line per leaf, so keys are searchable next to their values.

    The nesting is measured before ``json.loads`` (which recurses) runs."""
    text = decode_text(data)
    if json_depth(text) > limits.max_nesting_depth:
        raise exceeded("max_nesting_depth", limits.max_nesting_depth, "the JSON's nesting")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidFile(f"invalid JSON: {exc}") from exc
    lines: list[str] = []
    _json_lines(value, "", lines)
    return "\n".join(lines)


def parse(data: bytes, filename: str, limits: UploadLimits | None = None) -> str:
    """The plain text of ``data``, by ``filename``'s extension, within ``limits``."""
    limits = limits or UploadLimits()
    suffix = PurePath(filename).suffix.lower()
    if suffix in TEXT_EXTENSIONS:
        text = decode_text(data)
    elif suffix in (".html", ".htm"):
        text = html_text(decode_text(data), limits)
    elif suffix == ".pdf":
        text = pdf_text(data, limits)
    elif suffix == ".docx":
        text = docx_text(data, limits)
    elif suffix == ".json":
        text = json_text(data, limits)
    else:
        raise UnsupportedFile(
            f"unsupported file type '{suffix or filename}'; "
            f"supported: {', '.join(sorted(SUPPORTED))}"
        )
    if len(text) > limits.max_text_chars:
        raise exceeded("max_text_chars", limits.max_text_chars, "the file's extracted text")
    return text


def extract_text(data: bytes, filename: str, limits: UploadLimits | None = None) -> str:
    """:func:`parse`, refusing a file that has no text at all."""
    text = parse(data, filename, limits)
    if not text.strip():
        raise InvalidFile(f"'{filename}' has no text")
    return text
