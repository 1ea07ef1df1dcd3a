"""Changing a key's privacy policy after creation (issue 12 point 5)."""

from __future__ import annotations

from test_console_pages import _create_key, _create_tenant

from conftest import PASSWORD, Console

EMAIL_CHAT = {
    "model": "gpt-fake",
    "messages": [{"role": "user", "content": "write to alice.smith@example.com please"}],
}


def _chat_status(console: Console, secret: str) -> int:
    response = console.client.post(
        "/v1/chat/completions", json=EMAIL_CHAT, headers={"authorization": f"Bearer {secret}"}
    )
    return response.status_code


def test_an_admin_changes_a_keys_policy_and_the_next_request_obeys_it(console: Console) -> None:
    console.setup_admin()
    secret, key_id = _create_key(console, "pol-key", privacy_policy="allow")
    assert _chat_status(console, secret) == 200  # also fills the auth cache

    page = f"/console/keys/{key_id}"
    changed = console.post(f"{page}/policy", {"privacy_policy": "block"}, page=page)
    assert changed.status_code == 200  # type: ignore[attr-defined]
    assert '<option value="block" selected>' in changed.text  # type: ignore[attr-defined]
    assert "<td>block</td>" in console.client.get(page).text
    assert _chat_status(console, secret) == 403  # no wait for the auth cache

    back = console.post(f"{page}/policy", {"privacy_policy": ""}, page=page)
    assert back.status_code == 200  # type: ignore[attr-defined]
    assert console.client.get("/console/keys").text.count("pol-key") >= 1
    assert _chat_status(console, secret) == 200  # the tenant's / server's default: allow


def test_an_unknown_policy_name_is_a_field_error_and_changes_nothing(console: Console) -> None:
    console.setup_admin()
    _, key_id = _create_key(console, "pol-key", privacy_policy="redact")
    page = f"/console/keys/{key_id}"
    refused = console.post(f"{page}/policy", {"privacy_policy": "nonsense"}, page=page)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert 'id="error-policy"' in refused.text  # type: ignore[attr-defined]
    assert "nonsense" in refused.text  # type: ignore[attr-defined]
    assert "<td>redact</td>" in console.client.get(page).text


def test_a_viewer_or_another_tenants_admin_cannot_change_it(console: Console) -> None:
    console.setup_admin()
    mine, theirs = _create_tenant(console, "mine"), _create_tenant(console, "theirs")
    _, my_key = _create_key(console, "my-key", tenant=mine)
    _, their_key = _create_key(console, "their-key", tenant=theirs, privacy_policy="redact")
    for name, role in (("tad", "tenant-admin"), ("vic", "viewer")):
        created = console.post(
            "/console/users",
            {
                "name": name,
                "role": role,
                "tenant": mine,
                "password": PASSWORD,
                "password2": PASSWORD,
            },
        )
        assert created.status_code == 303  # type: ignore[attr-defined]

    console.client.cookies.clear()
    console.sign_in("tad")
    mine_page, their_page = f"/console/keys/{my_key}", f"/console/keys/{their_key}"
    other = console.post(f"{their_page}/policy", {"privacy_policy": "block"}, page=mine_page)
    assert other.status_code == 404  # type: ignore[attr-defined]
    own = console.post(f"{mine_page}/policy", {"privacy_policy": "block"}, page=mine_page)
    assert own.status_code == 200  # type: ignore[attr-defined]

    console.client.cookies.clear()
    console.sign_in("vic")
    assert 'id="key-policy"' not in console.client.get(mine_page).text
    viewer = console.post(f"{mine_page}/policy", {"privacy_policy": "allow"}, page=mine_page)
    assert viewer.status_code == 404  # type: ignore[attr-defined]
    assert "<td>block</td>" in console.client.get(mine_page).text


def test_a_name_the_api_refuses_by_length_is_refused_here_too(console: Console) -> None:
    console.setup_admin()
    _, key_id = _create_key(console, "pol-key", privacy_policy="redact")
    page = f"/console/keys/{key_id}"
    refused = console.post(f"{page}/policy", {"privacy_policy": "p" * 101}, page=page)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert 'id="error-policy"' in refused.text  # type: ignore[attr-defined]
    assert "<td>redact</td>" in console.client.get(page).text
