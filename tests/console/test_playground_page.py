"""The playground: privacy preview (nothing sent) and a streamed chat through the gateway."""

from __future__ import annotations

import json
import re

from conftest import PASSWORD, Console

RESIDENT_ID = "11010519491231002X"


def _tenant(console: Console, name: str, policy: str) -> str:
    response = console.post("/console/tenants", {"name": name, "privacy_policy": policy})
    return str(response.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]


def _user(console: Console, name: str, role: str, tenant: str) -> None:
    form = {
        "name": name,
        "role": role,
        "tenant": tenant,
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    assert console.post("/console/users", form).status_code == 303  # type: ignore[attr-defined]
    console.client.cookies.clear()
    console.sign_in(name)


def _form(console: Console, text: str, **extra: str) -> dict[str, str]:
    token = console.csrf("/console/playground")
    messages = json.dumps([{"role": "user", "content": text}])
    return {"csrf": token, "model": "gpt-fake", "messages": messages, **extra}


def test_preview_shows_a_placeholder_for_a_resident_id_and_sends_nothing(console: Console) -> None:
    console.setup_admin()
    tenant = _tenant(console, "careful", "redact")
    _user(console, "carol", "tenant-admin", tenant)
    page = console.client.get("/console/playground")
    assert page.status_code == 200 and "gpt-fake" in page.text and "redact" in page.text
    text = f"My ID is {RESIDENT_ID}, please check"
    response = console.client.post("/console/playground/preview", data=_form(console, text))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["policy"] == "redact" and result["found"] == {"CN_RESIDENT_ID": 1}
    segments = result["messages"][0]["segments"]
    assert [s["text"] for s in segments if s["placeholder"]] == ["[CN_RESIDENT_ID_1]"]
    assert RESIDENT_ID not in response.text  # the cloud deployment would not see it
    assert "".join(s["text"] for s in segments) == "My ID is [CN_RESIDENT_ID_1], please check"
    where = result["where"]
    assert where["locality"] == "cloud" and where["redacted"] is True
    assert console.upstream.generation_requests() == []


def test_preview_under_block_and_local_only_says_where_it_would_go(console: Console) -> None:
    console.setup_admin()
    tenant = _tenant(console, "strict", "local_only")
    _user(console, "sam", "viewer", tenant)
    form = _form(console, f"ID {RESIDENT_ID}")
    result = console.client.post("/console/playground/preview", data=form).json()
    assert result["action"] == "local_only"
    assert "no local deployment" in result["where"]["error"]  # the only deployment is cloud
    # A viewer may preview but not send.
    chat = console.client.post("/console/playground/chat", data=_form(console, "hi"))
    assert chat.status_code == 404


def test_a_chat_streams_through_the_gateway_as_the_console_user(console: Console) -> None:
    console.setup_admin()
    tenant = _tenant(console, "chatty", "allow")
    _user(console, "tina", "tenant-admin", tenant)
    form = _form(console, "one two three four", system="be brief", temperature="0.2")
    with console.client.stream("POST", "/console/playground/chat", data=form) as response:
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.iter_lines() if line]
    deltas = [line["delta"] for line in lines if "delta" in line]
    assert len(deltas) == 4 and "".join(deltas) == "one two three four"
    done = lines[-1]
    assert done["done"] and done["deployment"] and done["locality"] == "cloud"
    assert done["usage"]["completion_tokens"] == 4
    sent = console.upstream.generation_requests()[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent["temperature"] == 0.2
    # The ledger row: the tenant's, under the console user's key id.
    log = console.client.get(f"/console/requests/{done['request_id']}")
    assert log.status_code == 200 and "console:" in log.text


def test_a_bad_form_is_a_400_with_the_apis_message_and_csrf_is_checked(console: Console) -> None:
    console.setup_admin()
    form = _form(console, "hi", temperature="hot")
    response = console.client.post("/console/playground/chat", data=form)
    assert response.status_code == 400 and response.json()["param"] == "temperature"
    form = _form(console, "hi", model="")
    form["csrf"] = "forged"
    assert console.client.post("/console/playground/chat", data=form).status_code == 403
    assert re.search("Playground", console.client.get("/console/").text)


def test_file_search_over_a_chosen_store_cites_its_sources(console: Console) -> None:
    from test_knowledge_page import _idle, _new_store, _upload

    console.setup_admin()
    store = _new_store(console, "policies")
    text = b"Annual leave is twenty days for every employee."
    assert _upload(console, store, [("leave.txt", text, "text/plain")]).status_code == 201  # type: ignore[attr-defined]
    _idle(console)
    assert 'value="' + store + '"' in console.client.get("/console/playground").text
    form = _form(console, "How long is annual leave?")
    token = form.pop("csrf")
    with console.client.stream(
        "POST",
        "/console/playground/chat",
        data={"csrf": token, **form, "stores": [store]},  # type: ignore[dict-item]
    ) as response:
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.iter_lines() if line]
    citations = lines[0]["citations"]
    assert citations[0]["n"] == 1 and citations[0]["filename"] == "leave.txt"
    sent = console.upstream.generation_requests()[-1].body
    assert sent["messages"][0]["role"] == "system"
    assert "[1] (leave.txt) Annual leave is twenty days" in sent["messages"][0]["content"]
    assert lines[-1]["done"]
    # A store the user may not see is a 404, not a silent answer without sources.
    form = _form(console, "hi")
    missing = console.client.post(
        "/console/playground/chat",
        data={**form, "stores": ["vs_nope"]},  # type: ignore[dict-item]
    )
    assert missing.status_code == 404
