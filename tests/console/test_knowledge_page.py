"""Knowledge bases in the console: stores, uploads and ingestion, search side by side, scoping."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from conftest import PASSWORD, Console

PDF_MAKER = Path(__file__).parents[1] / "knowledge" / "test_kb_parsing.py"


def pdf_with_text(text: str) -> bytes:
    """The knowledge tests' hand-written one-page PDF (no PDF library needed)."""
    spec = importlib.util.spec_from_file_location("kb_parsing_tests", PDF_MAKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._pdf_with_text(text)  # type: ignore[no-any-return]


def _new_store(console: Console, name: str) -> str:
    response = console.post("/console/knowledge", {"name": name})
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    return str(response.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def _upload(console: Console, store: str, files: list[tuple[str, bytes, str]]) -> object:
    token = console.csrf(f"/console/knowledge/{store}")
    return console.client.post(
        f"/console/knowledge/{store}/upload",
        data={"csrf": token},
        files=[("files", f) for f in files],
        headers={"accept": "application/json"},
    )


def _idle(console: Console) -> None:
    stores = console.client.app.state.services.vector_stores  # type: ignore[attr-defined]
    console.client.portal.call(stores.ingestor.idle)  # type: ignore[union-attr]


def test_upload_txt_and_pdf_then_search_three_ways(console: Console) -> None:
    console.setup_admin()
    store = _new_store(console, "handbook")
    files = [
        ("leave.txt", b"Annual leave is twenty days for every employee.", "text/plain"),
        (
            "expenses.pdf",
            pdf_with_text("Travel expenses are refunded within thirty days"),
            "application/pdf",
        ),
        ("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"),
    ]
    uploaded = _upload(console, store, files)
    assert uploaded.status_code == 201, uploaded.text  # type: ignore[attr-defined]
    assert len(uploaded.json()["files"]) == 3  # type: ignore[attr-defined]
    _idle(console)
    page = console.client.get(f"/console/knowledge/{store}").text
    assert page.count('data-status="completed"') == 2 and 'data-status="failed"' in page
    assert "Dify" in page and f'<code id="dify-id">{store}</code>' in page
    listing = console.client.get("/console/knowledge").text
    assert "handbook" in listing and "2 / 3" in listing
    found = console.client.get(f"/console/knowledge/{store}", params={"q": "travel expenses"})
    lexical = re.search(
        r'id="results-lexical">(.*?)</div>\s*<div class="panel column"', found.text, re.S
    )
    assert lexical is not None and "expenses.pdf" in lexical.group(1)
    assert 'id="results-dense"' in found.text and 'id="results-hybrid"' in found.text
    leave = console.client.get(f"/console/knowledge/{store}", params={"q": "annual leave"}).text
    assert "leave.txt" in leave and "twenty days" in leave


def test_tenant_users_see_and_manage_only_their_stores(console: Console) -> None:
    console.setup_admin()
    theirs = _new_store(console, "admin-only")
    tenant = console.post("/console/tenants", {"name": "t1"}).headers["location"]  # type: ignore[attr-defined]
    form = {
        "name": "kbuser",
        "role": "tenant-admin",
        "tenant": tenant.rsplit("/", 1)[1],
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    console.post("/console/users", form)
    console.client.cookies.clear()
    console.sign_in("kbuser")
    assert "admin-only" not in console.client.get("/console/knowledge").text
    assert console.client.get(f"/console/knowledge/{theirs}").status_code == 404
    delete = console.post(f"/console/knowledge/{theirs}/delete", {}, page="/console/knowledge")
    assert delete.status_code == 404  # type: ignore[attr-defined]
    mine = _new_store(console, "<b>mine</b>")
    page = console.client.get(f"/console/knowledge/{mine}").text
    assert "&lt;b&gt;mine&lt;/b&gt;" in page and "<b>mine</b>" not in page
    assert (
        console.post(f"/console/knowledge/{mine}/delete", {}, page="/console/knowledge").status_code
        == 303
    )  # type: ignore[attr-defined]
    assert console.client.get(f"/console/knowledge/{mine}").status_code == 404
