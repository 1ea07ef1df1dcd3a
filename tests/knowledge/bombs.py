"""Hostile uploads built in the test itself, small on disk: zip/docx and PDF flate bombs,
documents nested far too deep.

A 1 GiB deflate stream is built from one compressed block repeated: after a
full flush the compressor starts from an empty history, so compressing the
same block again gives the same bytes. That makes a bomb in milliseconds.
"""

from __future__ import annotations

import struct
import zlib

MIB = 1024 * 1024
BLOCK = 4 * MIB


def _deflated(
    byte: bytes, total: int, prefix: bytes = b"", suffix: bytes = b""
) -> tuple[bytes, int, int, int]:
    """Raw deflate of ``prefix + byte * total + suffix`` (total a multiple of BLOCK):
    (stream, crc32, adler32, inflated size)."""
    assert total % BLOCK == 0
    chunk = byte * BLOCK

    def flushed(data: bytes, mode: int) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(mode)

    head = flushed(prefix, zlib.Z_FULL_FLUSH)
    block = flushed(chunk, zlib.Z_FULL_FLUSH)
    tail = flushed(suffix, zlib.Z_FINISH)
    crc, adler = zlib.crc32(prefix), zlib.adler32(prefix)
    for _ in range(total // BLOCK):
        crc = zlib.crc32(chunk, crc)
        adler = zlib.adler32(chunk, adler)
    crc, adler = zlib.crc32(suffix, crc), zlib.adler32(suffix, adler)
    stream = head + block * (total // BLOCK) + tail
    return stream, crc, adler, len(prefix) + total + len(suffix)


def zip_archive(members: list[tuple[str, bytes, int, int]], *, declare: int | None = None) -> bytes:
    """A zip of raw-deflated ``(name, data, crc, size)`` members; ``declare`` overrides
    every member's declared uncompressed size (a lying central directory)."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size in members:
        size = size if declare is None else declare
        encoded, offset = name.encode(), len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size,
                           len(encoded), 0)  # fmt: skip
        out += encoded + data
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data),
                               size, len(encoded), 0, 0, 0, 0, 0, offset)  # fmt: skip
        central += encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                      len(out), 0)  # fmt: skip
    return bytes(out + central + end)


def _member(name: str, text: bytes) -> tuple[str, bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, compressor.compress(text) + compressor.flush(), zlib.crc32(text), len(text)


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
PACKAGE = [  # what makes a zip a .docx python-docx (and Word) opens
    (
        "[Content_Types].xml",
        b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Default Extension="rels" '
        b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        b'<Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/word/document.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    ),
    (
        "_rels/.rels",
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.'
        b'openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
        b"</Relationships>",
    ),
]


def docx_bomb(size: int = 1024 * MIB, *, declare: int | None = None) -> bytes:
    """A valid .docx whose one paragraph of text inflates to ``size`` bytes (1 MB on disk
    for 1 GiB)."""
    prefix = f"<w:document {W}><w:body><w:p><w:r><w:t>".encode()
    suffix = b"</w:t></w:r></w:p></w:body></w:document>"
    data, crc, _, inflated = _deflated(b"a", size, prefix, suffix)
    members = [_member(name, text) for name, text in PACKAGE]
    members.append(("word/document.xml", data, crc, inflated))
    return zip_archive(members, declare=declare)


def docx_of(document_xml: bytes, extra_members: int = 0) -> bytes:
    members = [_member(name, text) for name, text in PACKAGE]
    members.append(_member("word/document.xml", document_xml))
    members += [_member(f"word/media/m{i}.bin", b"x") for i in range(extra_members)]
    return zip_archive(members)


def nested_docx(depth: int) -> bytes:
    inner = "<w:p><w:r><w:t>deep</w:t></w:r></w:p>"
    body = "<w:tbl><w:tr><w:tc>" * depth + inner + "</w:tc></w:tr></w:tbl>" * depth
    return docx_of(f"<w:document {W}><w:body>{body}</w:body></w:document>".encode())


def laughs_docx() -> bytes:
    entities = '<!ENTITY a "ha">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    xml = f"<?xml version='1.0'?><!DOCTYPE d [{entities}]><w:document {W}>&j;</w:document>"
    return docx_of(xml.encode())


def pdf(streams: list[tuple[bytes, str]]) -> bytes:
    """A PDF with one page per ``(stream bytes, filter)``; filter "" for none."""
    count = len(streams)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    font = 3 + 2 * count
    for i, (stream, kind) in enumerate(streams):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        filt = f" /Filter /{kind}" if kind else ""
        objects.append(
            f"<< /Length {len(stream)}{filt} >>\nstream\n".encode() + stream + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def text_page(text: str) -> tuple[bytes, str]:
    return f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode(), ""


def pdf_flate_bomb(size: int = 1024 * MIB) -> bytes:
    """One page whose content stream inflates to ``size`` bytes of spaces."""
    data, _, adler, _ = _deflated(b" ", size)
    stream = b"\x78\xda" + data + struct.pack(">L", adler)  # the zlib wrapper FlateDecode wants
    return pdf([(stream, "FlateDecode")])


def nested_json(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def nested_html(depth: int) -> bytes:
    return b"<html><body>" + b"<div>" * depth + b"deep" + b"</div>" * depth + b"</body></html>"
