"""Bounded parsing of uploads (issue 18.2): bombs and deep nesting end ``failed`` /
``invalid_file`` naming the limit, within bounded memory; text is extracted once."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from bombs import (
    MIB,
    docx_bomb,
    docx_of,
    laughs_docx,
    nested_docx,
    nested_html,
    nested_json,
    pdf,
    pdf_flate_bomb,
    text_page,
)
from starlette.testclient import TestClient
from vssupport import FakeEmbedder, fake_app, fake_settings, new_key, sdk

from plinth.app import create_app
from plinth.errors import InvalidFile
from plinth.knowledge.limits import UploadLimits
from plinth.knowledge.parsing import parse
from plinth.settings import UploadSettings

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    ("name", "build", "limit"),
    [
        ("bomb.docx", lambda: docx_bomb(), "max_inflated_bytes"),
        ("ratio.docx", lambda: docx_bomb(32 * MIB), "max_compression_ratio"),
        ("members.docx", lambda: docx_of(b"<a/>", 2_100), "max_archive_members"),
        ("deep.docx", lambda: nested_docx(5_000), "max_nesting_depth"),
        ("bomb.pdf", lambda: pdf_flate_bomb(), "max_pdf_stream_bytes"),
        ("deep.json", lambda: nested_json(1_000_000), "max_nesting_depth"),
        ("deep.html", lambda: nested_html(100_000), "max_nesting_depth"),
    ],
)
def test_each_limit_is_named(name: str, build: object, limit: str) -> None:
    with pytest.raises(InvalidFile, match=rf"uploads\.{limit}\b"):
        parse(build(), name)  # type: ignore[operator]


def test_limits_that_need_small_settings_to_show() -> None:
    five_pages = pdf([text_page(f"page {i}") for i in range(5)])
    with pytest.raises(InvalidFile, match=r"uploads\.max_pdf_pages"):
        parse(five_pages, "long.pdf", UploadLimits(max_pdf_pages=3))
    assert "page 4" in parse(five_pages, "long.pdf", UploadLimits(max_pdf_pages=5))
    with pytest.raises(InvalidFile, match=r"uploads\.max_inflated_bytes"):
        parse(five_pages, "long.pdf", UploadLimits(max_inflated_bytes=100))
    with pytest.raises(InvalidFile, match=r"uploads\.max_text_chars"):
        parse(b"word " * 1000, "long.txt", UploadLimits(max_text_chars=1000))


def test_dtds_and_lying_sizes_are_refused_without_inflating() -> None:
    with pytest.raises(InvalidFile, match="DTD"):
        parse(laughs_docx(), "laughs.docx")
    # The central directory claims 900 KB (small enough to escape the ratio check);
    # the stream holds 1 GiB: reading stops at the claim and the file is refused.
    with pytest.raises(InvalidFile, match=r"not a readable \.docx"):
        parse(docx_bomb(declare=900_000), "lying.docx")


def test_a_modest_docx_still_reads_in_document_order() -> None:
    body = (
        "<w:p><w:r><w:t>Intro</w:t></w:r></w:p>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>key</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>value</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        "<w:p><w:r><w:t>Outro</w:t><w:tab/><w:t>end</w:t></w:r></w:p>"
    )
    xml = f'<w:document xmlns:w="{W_NS}"><w:body>{body}</w:body></w:document>'
    assert parse(docx_of(xml.encode()), "ok.docx") == "Intro\nkey | value\nOutro\tend"


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[TestClient]:
    with fake_app(tmp_path) as client:
        yield client


def _ingest(http: TestClient, client: openai.OpenAI, store_id: str, name: str, data: bytes) -> str:
    file_id = client.files.create(file=(name, io.BytesIO(data)), purpose="assistants").id
    client.vector_stores.files.create(vector_store_id=store_id, file_id=file_id)
    stores = http.app.app.state.services.vector_stores  # type: ignore[attr-defined]
    http.portal.call(stores.ingestor.idle)  # type: ignore[union-attr]
    return file_id


def test_a_bomb_ends_failed_with_invalid_file_and_its_content_is_not_reparsed(
    app: TestClient,
) -> None:
    key = new_key(app, "bombs")
    client = sdk(app, key)
    store = client.vector_stores.create(name="bombs")
    file_id = _ingest(app, client, store.id, "bomb.pdf", pdf_flate_bomb())
    row = client.vector_stores.files.retrieve(file_id=file_id, vector_store_id=store.id)
    assert row.status == "failed" and row.last_error is not None
    assert row.last_error.code == "invalid_file"
    assert "uploads.max_pdf_stream_bytes" in row.last_error.message
    # Reading its content answers with the recorded error: no second parse.
    app.app.state.services.file_storage.path(file_id).unlink()  # type: ignore[attr-defined]
    content = app.get(
        f"/v1/vector_stores/{store.id}/files/{file_id}/content",
        headers={"authorization": f"Bearer {key}"},
    )
    assert content.status_code == 400, content.text
    assert content.json()["error"]["code"] == "invalid_file"
    assert "uploads.max_pdf_stream_bytes" in content.json()["error"]["message"]


def test_text_is_extracted_once_and_stored(app: TestClient) -> None:
    key = new_key(app, "stored-text")
    client = sdk(app, key)
    first = client.vector_stores.create(name="first")
    file_id = _ingest(app, client, first.id, "notes.html", b"<p>Refunds within 30 days.</p>")
    # The bytes are gone: content and a second attach can only come from the stored text.
    app.app.state.services.file_storage.path(file_id).unlink()  # type: ignore[attr-defined]
    pages = list(client.vector_stores.files.content(file_id, vector_store_id=first.id))
    assert [p.text for p in pages] == ["Refunds within 30 days."]
    second = client.vector_stores.create(name="second")
    client.vector_stores.files.create(vector_store_id=second.id, file_id=file_id)
    app.portal.call(app.app.state.services.vector_stores.ingestor.idle)  # type: ignore[attr-defined,union-attr]
    row = client.vector_stores.files.retrieve(file_id=file_id, vector_store_id=second.id)
    assert row.status == "completed", row.last_error
    hits = client.vector_stores.search(second.id, query="refunds")
    assert [h.file_id for h in hits.data] == [file_id]


def test_ingesting_every_bomb_stays_within_300_mb_and_returns(tmp_path: Path) -> None:
    """In a fresh process (bomb_rss.py): peak RSS over idle, and RSS after, while the
    1 GiB docx and PDF bombs and the deeply nested JSON/HTML/docx are ingested."""
    run = subprocess.run(
        [sys.executable, str(HERE / "bomb_rss.py"), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["warm"]["status"] == "completed"
    for name, result in report["results"].items():
        assert result["status"] == "failed", (name, result)
        assert result["code"] == "invalid_file", (name, result)
        assert "uploads.max_" in result["message"], (name, result)
    assert report["peak_reset"], "VmHWM could not be reset: the peak would include start-up"
    mib = 1024
    assert report["peak_kib"] - report["idle_kib"] < 300 * mib, report
    assert report["after_kib"] - report["idle_kib"] < 64 * mib, report


def test_the_limits_come_from_settings(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path).model_copy(
        update={"uploads": UploadSettings(max_pdf_pages=1)}
    )
    with TestClient(create_app(settings, engines=[FakeEmbedder()])) as http:
        client = sdk(http, new_key(http, "limits"))
        store = client.vector_stores.create(name="limits")
        two_pages = pdf([text_page("first"), text_page("second")])
        file_id = _ingest(http, client, store.id, "two.pdf", two_pages)
        row = client.vector_stores.files.retrieve(file_id=file_id, vector_store_id=store.id)
        assert row.status == "failed" and row.last_error is not None
        assert "uploads.max_pdf_pages (1)" in row.last_error.message
