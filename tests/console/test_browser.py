"""The console in a real browser: Playwright driving Debian's chromium against `plinth serve`'s app.

Skipped, with the reason, only when no chromium binary or no playwright package is
installed (`.ci/run` installs both). Every page visited is checked for JavaScript
errors and for dialogs (an escaped `<script>` or `onerror` never runs).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import ADMIN_KEY, PASSWORD, UPSTREAM_KEY
from plinth.app import create_app
from plinth.settings import Settings
from upstreamfake import FakeUpstream

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (apt install chromium)"
)

XSS_TENANT = '"><img src=x onerror=alert(1)>'
XSS_KEY = "<script>alert(1)</script>"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def upstream_settings(tmp_path: Path, upstream: FakeUpstream, **extra: Any) -> Settings:
    """Settings for a server with no bundled models and one fake upstream model, gpt-fake."""
    return Settings(
        data_dir=tmp_path,
        admin_key=ADMIN_KEY,  # type: ignore[arg-type]
        load_bundled_models=False,
        deployments=[  # type: ignore[list-item]
            {
                "model": "gpt-fake",
                "base_url": upstream.base_url,
                "api_key_env": "FAKE_UPSTREAM_API_KEY",
                "upstream_model": "fake-model",
            }
        ],
        routing={"health_interval_s": 0},  # type: ignore[arg-type]
        **extra,
    )


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app on a free loopback port (uvicorn in a thread); yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real server on a free port (uvicorn in a thread), with a fake upstream model."""
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    with FakeUpstream() as upstream, serving(upstream_settings(tmp_path, upstream)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose console errors, page errors and dialogs are collected."""

    def __init__(self, browser: Any, base: str, locale: str = "en-US"):
        self.context = browser.new_context(locale=locale)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        self.page = self.context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        self.page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        return response

    def fill(self, form: str, **fields: str) -> None:
        for name, value in fields.items():
            self.page.fill(f"{form} [name='{name}']", value)


def _sign_in(w: Watched, name: str) -> None:
    w.go("/console/signin")
    w.fill("form[action$='/signin']", name=name, password=PASSWORD)
    w.page.click("#signin")
    w.page.wait_for_url(re.compile(r".*/console/$"))


def test_console_flows_in_chromium(live: str, browser: Any) -> None:
    w = Watched(browser, live)
    page = w.page
    # First run: setup with the admin API key.
    w.go("/")
    assert page.url.endswith("/console/setup")
    w.fill("form", admin_key=ADMIN_KEY, name="root", password=PASSWORD, password2=PASSWORD)
    page.click("#create-admin")
    page.wait_for_url(re.compile(r".*/console/$"))
    cookie = next(c for c in w.context.cookies() if c["name"] == "plinth_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]

    # Two tenants (one with a hostile name), a key for each; the secret shown once.
    tenants = {}
    for name in ("acme", XSS_TENANT):
        w.go("/console/tenants")
        w.fill("#create-tenant", name=name)
        page.click("#create-tenant #create")
        page.wait_for_url(re.compile(r".*/console/tenants/ten_[0-9a-f]+$"))
        tenants[name] = page.url.rsplit("/", 1)[1]
    assert page.inner_text("#tenant-name") == XSS_TENANT
    w.go("/console/keys")
    w.fill("#create-key", name=XSS_KEY)
    page.select_option("#create-key #tenant", tenants["acme"])
    page.click("#create-key #create")
    secret = page.inner_text("#secret")
    assert secret.startswith("sk-plinth-")
    page.click("#copy")
    page.wait_for_function("document.querySelector('#copy').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    key_id = page.get_attribute("#new-key", "data-key-id")
    w.go("/console/keys")
    assert secret not in page.content() and XSS_KEY in page.inner_text("#keys")

    # Top up acme's wallet.
    w.go(f"/console/tenants/{tenants['acme']}")
    w.fill("#topup-form", amount="25")
    page.click("#topup-button")
    assert page.inner_text("#wallet-balance") == "25.0000"

    # A chat call with the new key shows on the dashboard and in the log.
    reply = httpx.post(
        live + "/v1/chat/completions",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": "hi <b>there</b>"}]},
        headers={"authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    request_id = reply.headers["x-request-id"]
    w.go(f"/console/?range=24h&key={key_id}")
    assert page.get_attribute("#total-requests", "data-value") == "1.0"
    w.go("/console/requests")
    page.click(f"a[href$='/requests/{request_id}']")
    assert page.inner_text("h1").endswith(request_id)
    assert "gpt-fake" in page.inner_text("#attempts")

    # The invoice of this month.
    w.go(f"/console/tenants/{tenants['acme']}/invoices/{datetime.now(UTC):%Y-%m}")
    assert page.inner_text("#invoice-tenant") == "acme"
    assert page.get_attribute("#download-csv", "href").endswith("format=csv")

    # Every page, in both languages, with the hostile names on them.
    pages = [
        "/console/",
        "/console/requests",
        "/console/keys",
        f"/console/keys/{key_id}",
        "/console/tenants",
        f"/console/tenants/{tenants[XSS_TENANT]}",
        "/console/billing",
        "/console/audit",
        "/console/users",
    ]
    for path in pages:
        assert w.go(path).status == 200, path
    page.click("#lang-zh-CN")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "租户" in page.content()
    for path in pages:
        assert w.go(path).status == 200, path
        assert page.locator("html").get_attribute("lang") == "zh-CN", path

    # A tenant user of acme cannot reach the other tenant by editing URLs.
    w.go("/console/users")
    w.fill("#create-user", name="acme-admin", password=PASSWORD, password2=PASSWORD)
    page.select_option("#create-user #role", "tenant-admin")
    page.select_option("#create-user #tenant", tenants["acme"])
    page.click("#create-user #create")
    page.click("#signout")
    page.wait_for_url(re.compile(r".*/console/signin"))
    assert w.problems == []  # no script errors or dialogs on any page so far
    _sign_in(w, "acme-admin")
    other = tenants[XSS_TENANT]
    for path in (
        f"/console/tenants/{other}",
        f"/console/tenants/{other}/invoices/2026-01",
        "/console/users",
    ):
        assert w.go(path).status == 404, path
    assert w.go(f"/console/tenants/{tenants['acme']}").status == 200
    # Chromium logs each 404 document it was sent to; nothing else may appear.
    assert len(w.problems) == 3
    assert all("status of 404" in p for p in w.problems), w.problems
    w.context.close()


def test_a_form_without_its_csrf_token_is_refused_in_the_browser(live: str, browser: Any) -> None:
    w = Watched(browser, live)
    w.go("/console/setup")
    forge = "document.querySelector(\"form[action$='/setup'] input[name='csrf']\").value = 'x'"
    w.page.evaluate(forge)
    w.fill("form", admin_key=ADMIN_KEY, name="root", password=PASSWORD, password2=PASSWORD)
    w.page.click("#create-admin")
    assert "did not come from this console" in w.page.inner_text("#error-message")
    w.context.close()
