"""Console pages over real services: keys, a chat call in the log, wallets, invoices,
tenant isolation, escaping, languages and the proxy path prefix."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.testclient import TestClient

from conftest import ADMIN_KEY, PASSWORD, Console
from plinth.app import create_app

XSS_KEY = "<script>alert(1)</script>"
XSS_TENANT = '"><img src=x onerror=alert(1)>'


def _create_key(console: Console, name: str, **fields: str) -> tuple[str, str]:
    response = console.post("/console/keys", {"name": name, **fields})
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    secret = re.search(r'<code id="secret">([^<]+)</code>', html)
    assert secret is not None
    key_id = re.search(r'data-key-id="(key_[0-9a-f]+)"', html)
    assert key_id is not None
    return secret.group(1), key_id.group(1)


def _create_tenant(console: Console, name: str) -> str:
    response = console.post("/console/tenants", {"name": name})
    location = response.headers["location"]  # type: ignore[attr-defined]
    return str(location.rsplit("/", 1)[1])


def _chat(console: Console, key: str, text: str = "hello there") -> str:
    response = console.client.post(
        "/v1/chat/completions",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": text}]},
        headers={"authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    return response.headers["x-request-id"]


def test_a_new_key_is_shown_once_and_its_call_reaches_dashboard_and_log(
    console: Console,
) -> None:
    console.setup_admin()
    secret, key_id = _create_key(console, "ci-key")
    listing = console.client.get("/console/keys").text
    assert secret not in listing and "ci-key" in listing
    assert secret not in console.client.get(f"/console/keys/{key_id}").text

    request_id = _chat(console, secret)
    dashboard = console.client.get("/console/", params={"range": "24h", "key": key_id})
    assert 'id="total-requests" data-value="1.0"' in dashboard.text
    log = console.client.get("/console/requests", params={"key": key_id}).text
    assert request_id in log
    detail = console.client.get(f"/console/requests/{request_id}")
    assert detail.status_code == 200 and "gpt-fake" in detail.text
    found = console.client.get("/console/requests", params={"q": request_id}).text
    assert found.count(f"/console/requests/{request_id}") == 1


def test_wallet_top_up_validates_like_the_api_and_updates_the_balance(console: Console) -> None:
    console.setup_admin()
    tenant = _create_tenant(console, "acme")
    page = f"/console/tenants/{tenant}"
    negative = console.post(f"{page}/topup", {"amount": "-5"}, page=page)
    assert negative.status_code == 400  # type: ignore[attr-defined]
    assert 'id="error-topup.amount"' in negative.text  # type: ignore[attr-defined]
    assert "at least 0" in negative.text  # type: ignore[attr-defined]
    not_a_number = console.post(f"{page}/topup", {"amount": "ten"}, page=page)
    assert "Must be a number" in not_a_number.text  # type: ignore[attr-defined]
    done = console.post(f"{page}/topup", {"amount": "12.5", "note": "first"}, page=page)
    assert done.status_code == 200  # type: ignore[attr-defined]
    assert re.search(r'id="wallet-balance">12\.5000<', done.text)  # type: ignore[attr-defined]
    api = console.client.get(
        f"/admin/tenants/{tenant}/wallet", headers={"authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert api.json()["balance"] == "12.5"


def test_invoice_page_and_downloads(console: Console) -> None:
    console.setup_admin()
    tenant = _create_tenant(console, "invoiced")
    period = datetime.now(UTC).strftime("%Y-%m")
    page = console.client.get(f"/console/tenants/{tenant}/invoices/{period}")
    assert page.status_code == 200 and 'id="invoice-total_due"' in page.text
    for fmt, media in (("html", "text/html"), ("csv", "text/csv"), ("json", "application/json")):
        download = console.client.get(
            f"/console/tenants/{tenant}/invoices/{period}", params={"format": fmt}
        )
        assert download.status_code == 200
        assert download.headers["content-type"].startswith(media)
        assert "attachment" in download.headers["content-disposition"]


def test_a_tenant_user_gets_404_for_another_tenants_urls(console: Console) -> None:
    console.setup_admin()
    mine, theirs = _create_tenant(console, "mine"), _create_tenant(console, "theirs")
    _, my_key = _create_key(console, "my-key", tenant=mine)
    their_secret, their_key = _create_key(console, "their-key", tenant=theirs)
    their_request = _chat(console, their_secret)
    created = console.post(
        "/console/users",
        {
            "name": "tad",
            "role": "tenant-admin",
            "tenant": mine,
            "password": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert created.status_code == 303  # type: ignore[attr-defined]
    console.client.cookies.clear()
    console.sign_in("tad")
    client = console.client
    for url in (
        f"/console/tenants/{theirs}",
        f"/console/tenants/{theirs}/invoices/2026-01",
        f"/console/keys/{their_key}",
        f"/console/requests/{their_request}",
        "/console/users",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/console/tenants/{mine}").status_code == 200
    assert client.get(f"/console/keys/{my_key}").status_code == 200
    revoke = console.post(f"/console/keys/{their_key}/revoke", {}, page="/console/keys")
    assert revoke.status_code == 404  # type: ignore[attr-defined]
    # Filters naming the other tenant show nothing of it.
    log = client.get("/console/requests", params={"tenant": theirs, "range": "all"}).text
    assert their_request not in log
    dash = client.get("/console/", params={"tenant": theirs, "range": "24h"}).text
    assert 'id="total-requests" data-value="0' in dash or 'data-value=""' in dash
    assert "their-key" not in client.get("/console/keys").text


def test_text_users_control_is_escaped_everywhere(console: Console) -> None:
    console.setup_admin()
    tenant = _create_tenant(console, XSS_TENANT)
    secret, key_id = _create_key(console, XSS_KEY, tenant=tenant)
    request_id = _chat(console, secret, text=XSS_KEY)
    pages = [
        "/console/keys",
        f"/console/keys/{key_id}",
        "/console/tenants",
        f"/console/tenants/{tenant}",
        "/console/?range=24h",
        "/console/requests",
        f"/console/requests/{request_id}",
        "/console/audit",
        f"/console/tenants/{tenant}/invoices/{datetime.now(UTC):%Y-%m}",
        "/console/billing",
    ]
    for url in pages:
        html = console.client.get(url).text
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in console.client.get("/console/keys").text


def test_language_from_accept_language_switchable_and_remembered(console: Console) -> None:
    console.setup_admin()
    client = console.client
    client.cookies.delete("plinth_lang", path="/console")
    zh = client.get("/console/keys", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "API 密钥" in zh.text and '<html lang="zh-CN">' in zh.text
    en = client.get("/console/keys", headers={"accept-language": "en-GB,en;q=0.9"})
    assert "API keys" in en.text
    switched = console.post(
        "/console/language", {"lang": "zh-CN", "next": "/console/keys"}, page="/console/keys"
    )
    assert switched.headers["location"] == "/console/keys"  # type: ignore[attr-defined]
    again = client.get("/console/keys", headers={"accept-language": "en"})
    assert '<html lang="zh-CN">' in again.text


def test_links_assets_and_redirects_honour_the_proxy_prefix(console: Console) -> None:
    with TestClient(
        create_app(console.settings), root_path="/plinth", raise_server_exceptions=True
    ) as client:
        first = client.get("/plinth/console/", follow_redirects=False)
        assert first.headers["location"] == "/plinth/console/setup"
        page = client.get("/plinth/console/setup")
        assert 'href="/plinth/console/static/console.css"' in page.text
        assert 'action="/plinth/console/setup"' in page.text
        assert client.get("/plinth/console/static/console.css").status_code == 200
        root = client.get("/plinth/", follow_redirects=False)
        assert root.headers["location"] == "/plinth/console/"
