"""Console part 2 in Debian's chromium: the playground's privacy preview and streamed chat.

Uses part 1's browser setup (``test_browser``); skipped the same way when no
chromium or playwright is installed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_browser import (  # noqa: F401 - the browser fixture
    Watched,
    browser,
    serving,
    upstream_settings,
)

from conftest import ADMIN_KEY, PASSWORD, UPSTREAM_KEY
from upstreamfake import FakeUpstream, Fault

RESIDENT_ID = "11010519491231002X"


class PacedUpstream(FakeUpstream):
    """The fake upstream, pausing between stream chunks like a model generating them."""

    async def _sse(
        self, request: web.Request, chunks: list[dict[str, Any]], fault: Fault | None
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            await asyncio.sleep(0.1)  # pacing of the fake model, not synchronisation
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


@pytest.fixture
def live2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real server whose default privacy policy redacts, over a paced fake upstream."""
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    redacting = {"privacy": {"default_policy": "redact"}}
    with (
        PacedUpstream() as upstream,
        serving(upstream_settings(tmp_path, upstream, **redacting)) as url,
    ):
        yield url


def _setup(w: Watched) -> None:
    w.go("/")
    w.fill("form", admin_key=ADMIN_KEY, name="root", password=PASSWORD, password2=PASSWORD)
    w.page.click("#create-admin")
    w.page.wait_for_url(re.compile(r".*/console/$"))


# Records every text the answer shows, as it changes (set up before sending).
WATCH_ANSWER = """() => {
  window.seen = [];
  new MutationObserver(() => {
    const answer = document.querySelector('#transcript .assistant');
    if (answer) window.seen.push(answer.textContent);
  }).observe(document.getElementById('transcript'),
             {subtree: true, childList: true, characterData: true});
}"""


def test_playground_preview_and_streamed_answer_in_chromium(
    live2: str,
    browser: Any,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    w = Watched(browser, live2)
    page = w.page
    _setup(w)
    w.go("/console/playground")
    page.fill("#message", f"My resident ID is {RESIDENT_ID}, is it valid?")
    page.click("#preview")
    page.wait_for_selector("#preview-out mark.placeholder")
    assert page.inner_text("#preview-out mark.placeholder") == "[CN_RESIDENT_ID_1]"
    assert RESIDENT_ID not in page.inner_text("#preview-out")
    assert page.get_attribute("#preview-out .where", "data-locality") == "cloud"
    page.screenshot(path=str(tmp_path / "preview.png"))

    page.fill("#message", "alpha beta gamma delta epsilon")
    page.evaluate(WATCH_ANSWER)
    page.click("#send")
    page.wait_for_selector("#turn-stats[data-done='1']")
    answer = page.inner_text("#transcript .assistant")
    assert answer == "alpha beta gamma delta epsilon"
    seen = [s for s in page.evaluate("window.seen") if s]
    # Token by token: the answer grew through several prefixes before it was whole.
    assert len(set(seen)) >= 3, seen
    assert all(answer.startswith(s) for s in seen)
    assert page.get_attribute("#transcript .assistant", "data-chunks") == "5"
    assert "Tokens" in page.inner_text("#turn-stats")
    page.click("#lang-zh-CN")
    page.wait_for_load_state()
    assert "调试台" in page.content()
    assert w.problems == []
    w.context.close()


def _pdf(text: str) -> bytes:
    from test_knowledge_page import pdf_with_text

    return pdf_with_text(text)


def test_knowledge_upload_txt_and_pdf_then_search_in_chromium(
    live2: str,
    browser: Any,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    w = Watched(browser, live2)
    page = w.page
    _setup(w)
    w.go("/console/knowledge")
    w.fill("#create-store", name="handbook")
    page.click("#create-store #create")
    page.wait_for_url(re.compile(r".*/console/knowledge/vs_[0-9a-zA-Z]+$"))
    txt, pdf = tmp_path / "leave.txt", tmp_path / "expenses.pdf"
    txt.write_text("Annual leave is twenty days for every employee.")
    pdf.write_bytes(_pdf("Travel expenses are refunded within thirty days"))
    page.set_input_files("#files", [str(txt), str(pdf)])
    page.click("#upload")
    # The page reloads after the upload, and again until ingestion is done.
    page.wait_for_selector("#files tr[data-status='completed'] >> nth=1", timeout=30_000)
    assert page.locator("#files tr[data-status='in_progress']").count() == 0
    page.fill("#q", "travel expenses refunded")
    page.click("#search")
    page.wait_for_selector("#results-lexical .hit")
    assert "expenses.pdf" in page.inner_text("#results-lexical")
    assert page.locator("#results-hybrid").count() == 1
    assert page.locator("#results-dense").count() == 1
    page.fill("#q", "annual leave")
    page.click("#search")
    page.wait_for_selector("#results-lexical .hit")
    assert "leave.txt" in page.inner_text("#results-lexical .hit >> nth=0")
    assert page.inner_text("#dify-id").startswith("vs_")
    assert w.problems == []
    w.context.close()


def test_deployment_test_and_a_bench_run_in_chromium(
    live2: str,
    browser: Any,  # noqa: F811 - the fixture imported above
) -> None:
    w = Watched(browser, live2)
    page = w.page
    _setup(w)
    w.go("/console/models")
    assert "Defined in plinth.toml" in page.inner_text("table.deployments")
    page.click("table.deployments button.test")
    page.wait_for_selector("#test-result")
    assert page.get_attribute("#test-result", "data-ok") == "1"
    assert page.inner_text("#test-text") == "Say OK."  # the fake upstream on loopback echoes

    w.go("/console/bench")
    page.check("#candidates input[value='gpt-fake']")
    page.select_option("#workload", "short_chat")
    page.fill("#requests", "2")
    page.click("#start")
    page.wait_for_url(re.compile(r".*/console/bench/[^/]+$"))
    page.wait_for_selector("#recommendation", timeout=60_000)  # the page reloads when done
    assert page.inner_text("#recommendation") == "gpt-fake"
    sources = page.inner_text("#score-sources")
    assert "measured in this run" in sources and "provider catalog" in sources
    assert page.locator("iframe#report").count() == 1
    assert w.problems == []
    w.context.close()
