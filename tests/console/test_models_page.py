"""The models page: live state, database deployments through the API's checks, the test button."""

from __future__ import annotations

import re

from conftest import ADMIN_KEY, PASSWORD, Console


def _add(console: Console, **fields: str) -> object:
    return console.post("/console/models", fields, page="/console/models")


def _ledger_row(console: Console, page: str) -> dict[str, object]:
    """The ledger row of the test request whose id the result panel links."""
    found = re.search(r'id="test-request" href="[^"]*/requests/([^"]+)"', page)
    assert found is not None
    # Through the admin API, which first commits what the recorder has queued
    # (the ledger row is journaled before the response, committed just after).
    response = console.client.get(
        f"/admin/usage/requests/{found.group(1)}",
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_models_page_shows_deployments_with_state_and_config_ones_read_only(
    console: Console,
) -> None:
    console.setup_admin()
    page = console.client.get("/console/models")
    assert page.status_code == 200
    assert "gpt-fake" in page.text and "Defined in plinth.toml" in page.text
    assert "No local model is loaded." in page.text
    # A config deployment cannot be removed here: the API's own refusal.
    config_id = re.search(r'data-deployment="([^"]+)"', page.text)
    assert config_id is not None
    refused = console.post(
        f"/console/models/delete/{config_id.group(1)}", {}, page="/console/models"
    )
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "plinth.toml" in refused.text  # type: ignore[attr-defined]


def test_add_edit_remove_a_database_deployment_with_the_apis_validation(console: Console) -> None:
    console.setup_admin()
    base = console.upstream.base_url
    bad = _add(console, model="db-model", base_url=base, weight="-1")
    assert bad.status_code == 400 and "weight" in bad.text  # type: ignore[attr-defined]
    secret = _add(console, model="db-model", base_url=base, api_key_env="HOME")
    assert secret.status_code == 400  # type: ignore[attr-defined]
    created = _add(
        console,
        model="db-model",
        id="db-1",
        base_url=base,
        api_key_env="FAKE_UPSTREAM_API_KEY",
        upstream_model="fake-model",
        priority="3",
    )
    assert created.status_code == 303, created.text  # type: ignore[attr-defined]
    page = console.client.get("/console/models").text
    assert 'data-deployment="db-1"' in page and "database" in page
    edited = console.post(
        "/console/models/edit/db-1", {"priority": "7", "region": "cn-north"}, page="/console/models"
    )
    assert edited.status_code == 303  # type: ignore[attr-defined]
    state = console.client.app.state.services.router.state("db-1")  # type: ignore[attr-defined]
    assert state.deployment.priority == 7 and state.deployment.region == "cn-north"
    wrong = console.post("/console/models/edit/db-1", {"weight": "x"}, page="/console/models")
    assert wrong.status_code == 400  # type: ignore[attr-defined]
    # The test button: one small request to the fake upstream on loopback.
    tested = console.post("/console/models/test/db-1", {}, page="/console/models")
    assert tested.status_code == 200  # type: ignore[attr-defined]
    assert 'data-ok="1"' in tested.text and "Say OK." in tested.text  # type: ignore[attr-defined]
    assert console.upstream.generation_requests()[-1].body["max_tokens"] == 8
    # It went through the gateway: a ledger row for the console user, on db-1.
    row = _ledger_row(console, tested.text)  # type: ignore[attr-defined]
    assert row["deployment"] == "db-1" and row["status"] == "ok"
    assert str(row["key_id"]).startswith("console:")
    removed = console.post("/console/models/delete/db-1", {}, page="/console/models")
    assert removed.status_code == 303  # type: ignore[attr-defined]
    assert 'data-deployment="db-1"' not in console.client.get("/console/models").text


def test_a_failing_upstream_shows_its_error_and_tenant_users_cannot_change(
    console: Console,
) -> None:
    from upstreamfake import Fault

    console.setup_admin()
    page = console.client.get("/console/models").text
    deployment = re.search(r'data-deployment="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    console.upstream.push(Fault.status(500))
    tested = console.post(f"/console/models/test/{deployment}", {}, page="/console/models")
    assert 'data-ok="0"' in tested.text and 'id="test-error"' in tested.text  # type: ignore[attr-defined]
    failed = _ledger_row(console, tested.text)  # type: ignore[attr-defined]
    assert failed["status"] == "error"  # one attempt, no retry: the pushed fault is the answer
    tenant = console.post("/console/tenants", {"name": "t1"}).headers["location"]  # type: ignore[attr-defined]
    form = {
        "name": "viewer1",
        "role": "tenant-admin",
        "tenant": tenant.rsplit("/", 1)[1],
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    console.post("/console/users", form)
    console.client.cookies.clear()
    console.sign_in("viewer1")
    view = console.client.get("/console/models")
    assert view.status_code == 200 and "gpt-fake" in view.text
    assert console.upstream.base_url not in view.text  # upstream URLs are for admins
    for path in (f"/console/models/test/{deployment}", "/console/models/delete/x"):
        assert console.post(path, {}, page="/console/models").status_code == 404  # type: ignore[attr-defined]


def test_the_test_button_probes_the_named_deployment_even_when_routing_would_skip_it(
    console: Console,
) -> None:
    console.setup_admin()
    created = _add(
        console,
        model="gpt-fake",
        id="db-2",
        base_url=console.upstream.base_url,
        api_key_env="FAKE_UPSTREAM_API_KEY",
        upstream_model="fake-model",
        priority="9",
    )
    assert created.status_code == 303, created.text  # type: ignore[attr-defined]
    router = console.client.app.state.services.router  # type: ignore[attr-defined]
    router.state("db-2").healthy = False  # routing skips it; an operator's probe does not
    tested = console.post("/console/models/test/db-2", {}, page="/console/models")
    assert 'data-ok="1"' in tested.text  # type: ignore[attr-defined]
    assert _ledger_row(console, tested.text)["deployment"] == "db-2"  # type: ignore[attr-defined]
