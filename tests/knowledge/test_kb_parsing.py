import io
import json

import pytest

from plinth.errors import InvalidFile as ParseError
from plinth.knowledge.parsing import parse


def _pdf_with_text(text: str) -> bytes:
    """A one-page PDF with a text layer, written by hand (no PDF library needed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def test_pdf_text_layer() -> None:
    assert "Retrieval quality matters" in parse(
        _pdf_with_text("Retrieval quality matters"), "a.pdf"
    )


def test_pdf_without_text_is_an_error() -> None:
    with pytest.raises(ParseError, match="no text layer"):
        parse(_pdf_with_text(""), "scan.pdf")
    with pytest.raises(ParseError):
        parse(b"not a pdf", "broken.pdf")


def test_docx_paragraphs_and_tables() -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("第一段：知识库")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "key"
    table.rows[0].cells[1].text = "value"
    buffer = io.BytesIO()
    document.save(buffer)
    text = parse(buffer.getvalue(), "notes.DOCX")
    assert "第一段：知识库" in text and "key | value" in text


def test_html_drops_scripts_and_styles() -> None:
    html = (
        b"<html><head><style>p{}</style><title>T</title></head><body><script>x=1</script>"
        b"<h1>Title</h1><p>Hello &amp; welcome</p></body></html>"
    )
    assert parse(html, "page.html") == "Title\nHello & welcome"


def test_text_encodings_and_markdown() -> None:
    assert parse("中文文本".encode("gb18030"), "a.txt") == "中文文本"
    assert parse("\ufeff# Title".encode(), "readme.md") == "# Title"


def test_json_keeps_keys_next_to_values() -> None:
    data = json.dumps({"name": "plinth", "tags": ["kb", "rag"], "meta": {"n": 1}}).encode()
    assert parse(data, "x.json").splitlines() == [
        "name: plinth",
        "tags[0]: kb",
        "tags[1]: rag",
        "meta.n: 1",
    ]


def test_unsupported_type() -> None:
    with pytest.raises(ParseError, match="unsupported"):
        parse(b"\x00", "image.png")
