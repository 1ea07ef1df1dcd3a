"""Console sign-in: first-run setup, sessions and their cookie, CSRF, the rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from conftest import ADMIN_KEY, PASSWORD, Console
from plinth.store.console_users import ConsoleUserStore, SessionStore
from plinth.store.database import open_database


def test_first_start_sends_to_setup_which_needs_the_admin_key(console: Console) -> None:
    client = console.client
    assert client.get("/", follow_redirects=False).headers["location"] == "/console/"
    first = client.get("/console/", follow_redirects=False)
    assert first.headers["location"] == "/console/setup"
    token = console.csrf("/console/setup")
    wrong = client.post(
        "/console/setup",
        data={
            "csrf": token,
            "admin_key": "sk-plinth-nope",
            "name": "root",
            "password": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert wrong.status_code == 400
    assert 'id="error-admin_key"' in wrong.text
    console.setup_admin()
    assert client.get("/console/").status_code == 200
    # Once a user exists, setup is closed, even to someone holding the admin key.
    client.cookies.clear()
    closed = client.get("/console/setup", follow_redirects=False)
    assert closed.headers["location"] == "/console/signin"


def test_session_cookie_flags_and_sign_out_everywhere(console: Console) -> None:
    console.setup_admin()
    client = console.client
    client.cookies.clear()
    token = console.csrf("/console/signin")
    response = client.post(
        "/console/signin",
        data={"csrf": token, "name": "root", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("plinth_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/console" in flags
    assert "secure" not in flags  # plain http here; https is asserted below
    session = client.cookies.get("plinth_session")
    assert client.get("/console/keys").status_code == 200
    # Sign out everywhere: this and every other session of the user end.
    client.post("/console/signout", data={"csrf": console.csrf("/console/keys"), "everywhere": "1"})
    client.cookies.set("plinth_session", session or "", path="/console")
    again = client.get("/console/keys", follow_redirects=False)
    assert again.status_code == 303 and "/console/signin" in again.headers["location"]


def test_secure_cookie_over_https(console: Console) -> None:
    console.setup_admin()
    client = console.client
    client.base_url = client.base_url.copy_with(scheme="https")  # type: ignore[assignment]
    client.cookies.clear()
    token = console.csrf("/console/signin")
    response = client.post(
        "/console/signin",
        data={"csrf": token, "name": "root", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("plinth_session=")
    )
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    console.setup_admin()
    client = console.client
    refused = client.post("/console/tenants", data={"name": "evil-corp"})
    assert refused.status_code == 403
    wrong = client.post("/console/tenants", data={"name": "evil-corp", "csrf": "x" * 43})
    assert wrong.status_code == 403
    assert "evil-corp" not in client.get("/console/tenants").text


def test_form_bodies_are_bounded_before_anyone_signs_in(console: Console) -> None:
    token = console.csrf("/console/signin")
    big = {"csrf": token, "name": "root", "password": "p" * 70_000}
    too_large = console.client.post("/console/signin", data=big)
    assert too_large.status_code == 413
    assert "65536" in too_large.text

    def chunked() -> Iterator[bytes]:  # no Content-Length: the size is not known up front
        yield f"csrf={token}&name=root&password=x".encode()

    headers = {"content-type": "application/x-www-form-urlencoded"}
    undeclared = console.client.post("/console/signin", content=chunked(), headers=headers)
    assert undeclared.status_code == 413
    small = console.client.post("/console/signin", data={**big, "password": "wrong-password"})
    assert small.status_code != 413


def test_sign_in_attempts_are_rate_limited_per_user(console: Console) -> None:
    console.setup_admin()
    client = console.client
    client.cookies.clear()
    for _ in range(5):
        token = console.csrf("/console/signin")
        bad = client.post(
            "/console/signin", data={"csrf": token, "name": "root", "password": "wrong-password"}
        )
        assert bad.status_code == 401
        assert 'id="signin-error"' in bad.text
    token = console.csrf("/console/signin")
    limited = client.post(
        "/console/signin", data={"csrf": token, "name": "root", "password": PASSWORD}
    )
    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.text


def test_setup_is_not_possible_with_a_non_admin_key(console: Console) -> None:
    created = console.client.post(
        "/admin/keys", json={"name": "plain"}, headers={"authorization": f"Bearer {ADMIN_KEY}"}
    )
    token = console.csrf("/console/setup")
    response = console.client.post(
        "/console/setup",
        data={
            "csrf": token,
            "admin_key": created.json()["key"],
            "name": "root",
            "password": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 400 and 'id="error-admin_key"' in response.text


def test_sessions_end_after_idle_and_absolute_time(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'plinth.db'}")
    user = ConsoleUserStore(engine).create("ops", "admin", PASSWORD)
    fresh = SessionStore(engine, idle=timedelta(hours=1), absolute=timedelta(hours=2))
    token, csrf = fresh.create(user.id)
    found = fresh.lookup(token)
    assert found is not None and found.user.id == user.id and found.csrf == csrf
    idle_out = SessionStore(engine, idle=timedelta(0), absolute=timedelta(hours=2))
    assert idle_out.lookup(token) is None  # and the row is gone
    assert fresh.lookup(token) is None
    token, _ = fresh.create(user.id)
    aged = SessionStore(engine, idle=timedelta(hours=1), absolute=timedelta(0))
    assert aged.lookup(token) is None


def test_a_viewer_reads_but_cannot_change_anything(console: Console) -> None:
    console.setup_admin()
    tenant = console.post("/console/tenants", {"name": "acme"}).headers["location"]  # type: ignore[attr-defined]
    tenant_id = tenant.rsplit("/", 1)[1]
    made = console.post(
        "/console/users",
        {
            "name": "val",
            "role": "viewer",
            "tenant": tenant_id,
            "password": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert made.status_code == 303  # type: ignore[attr-defined]
    console.client.cookies.clear()
    console.sign_in("val")
    assert console.client.get(f"/console/tenants/{tenant_id}").status_code == 200
    create = console.post("/console/keys", {"name": "sneaky"}, page="/console/keys")
    assert create.status_code == 404  # type: ignore[attr-defined]
    topup = console.post(
        f"/console/tenants/{tenant_id}/topup", {"amount": "5"}, page=f"/console/tenants/{tenant_id}"
    )
    assert topup.status_code == 404  # type: ignore[attr-defined]
