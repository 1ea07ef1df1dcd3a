"""Every route, fuzzed: no client mistake is a 5xx, a traceback, or an error out of shape.

Every (method, path) the app serves is found by walking its routes, so a new
route is fuzzed without editing this file. For each, hypothesis draws (seeded,
so CI is deterministic) junk path parameters and query strings, the admin's,
a user's, a junk or no key, and a body: malformed or non-JSON bytes, invalid
UTF-8, NUL bytes, nesting up to 20,000 deep, strings up to 300,000
characters, numbers like 2^64 and 1e308, wrong types, or the route's normal
body with fields replaced by such values. Field and query names come from the
API's own wire models and routers. The engines are fakes that fail the way a
real engine does on values no engine can hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fuzzsupport import (
    CHAT_MODEL,
    NUMBERS,
    RAW_BODIES,
    TEMPLATES,
    WRONG_VALUES,
    Endpoint,
    FakeChat,
    FakeEmbed,
    endpoints,
    field_names,
    json_values,
    query_names,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.settings import Settings
from testsupport import postgres_schema

ADMIN = "sk-plinth-fuzz-admin-0123456789"
ENDPOINTS = list(endpoints(create_app(Settings(data_dir=Path("/nonexistent"))).app.routes))
FIELDS = field_names()
QUERIES = query_names()
EXAMPLES_PER_ENDPOINT = 15


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with ExitStack() as stack:
        database_url = None
        if request.param == "postgresql":  # it refuses what SQLite stores (NUL in text)
            database_url = stack.enter_context(postgres_schema())
        yield stack.enter_context(fuzzed_app(tmp_path_factory.mktemp("fuzz"), database_url))


@contextmanager
def fuzzed_app(
    data_dir: Path, database_url: str | None
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app_settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        admin_key=ADMIN,
        load_bundled_models=False,
        max_body_bytes=1024 * 1024,
        knowledge={"embedding_model": "fake-embed"},
        routing={"health_interval_s": 0},
    )
    app = create_app(app_settings, engines=[FakeChat(), FakeEmbed()])
    with TestClient(app, raise_server_exceptions=False) as client:
        made = client.post(
            "/admin/keys", json={"name": "fuzz-user"}, headers={"authorization": f"Bearer {ADMIN}"}
        )
        assert made.status_code == 201, made.text
        keys = {"admin": ADMIN, "user": made.json()["key"], "junk": "sk-\x7f\x00 not-a-key"}
        yield client, keys


def _quote(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# Long enough to hit column limits, short enough for a URL (clients cap those at ~64 KiB).
URL_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["\x00", "\ud800", "../../etc/passwd", "%00", "'; DROP TABLE keys; --"]),
    st.sampled_from([300, 5000]).map(lambda n: "x" * n),
)
PATH_VALUES = st.one_of(
    URL_TEXT.filter(bool),
    st.sampled_from(["file-abc", "vs_abc", "key_1", "default", "2026-12", "credit", CHAT_MODEL]),
)


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def bodies(endpoint: Endpoint) -> st.SearchStrategy[bytes]:
    template = TEMPLATES.get(endpoint.path, {})
    own = sorted(set(endpoint.fields) | set(template))
    # Mostly the route's own fields (its schema), sometimes any field the API knows.
    names = (
        st.one_of(st.sampled_from(own), st.sampled_from(FIELDS)) if own else st.sampled_from(FIELDS)
    )
    mutated = st.dictionaries(names, json_values(), min_size=1, max_size=3).map(
        lambda updates: {**template, **updates}
    )
    return st.one_of(RAW_BODIES, mutated.map(_dump), mutated.map(_dump), json_values().map(_dump))


@st.composite
def requests(draw: st.DrawFn, endpoint: Endpoint) -> dict[str, Any]:
    path = endpoint.path
    for name in endpoint.params:
        placeholder = next(
            p for p in (f"{{{name}}}", f"{{{name}:path}}", f"{{{name}:str}}") if p in path
        )
        path = path.replace(placeholder, _quote(draw(PATH_VALUES)))
    query = draw(st.dictionaries(st.sampled_from(QUERIES), URL_TEXT, max_size=3))
    if query:
        path += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query.items())
    headers = {}
    who = draw(st.sampled_from(["admin", "user", "junk", None]))
    content_type = draw(
        st.sampled_from(["application/json", "text/plain", "multipart/form-data; boundary=x", None])
    )
    if content_type:
        headers["content-type"] = content_type
    has_body = endpoint.method in ("POST", "PUT", "PATCH")
    return {
        "method": endpoint.method,
        "url": path,
        "who": who,
        "headers": headers,
        "content": draw(bodies(endpoint)) if has_body else None,
    }


def assert_well_formed(endpoint: Endpoint, response: Any, sent: str = "") -> None:
    where = f"{endpoint} {sent[:200]} -> {response.status_code}: {response.text[:300]!r}"
    assert response.status_code < 500, where
    text = response.text
    assert "Traceback" not in text and 'File "/' not in text, where
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        assert '"internal_error"' not in text, where
    if response.status_code < 400 or endpoint.path.startswith("/console"):
        return  # the console answers in HTML pages; only "no 5xx, no traceback" applies
    assert response.headers.get("content-type", "").startswith("application/json"), where
    body = response.json()
    if endpoint.path == "/retrieval":  # Dify's External Knowledge API
        assert {"error_code", "error_msg"} <= set(body), where
    elif endpoint.path.startswith("/v1/messages"):  # Anthropic's Messages API
        assert body["type"] == "error", where
        assert {"type", "message"} <= set(body["error"]), where
    elif endpoint.path.startswith("/api/"):  # Ollama's API: {"error": "message"}
        assert isinstance(body["error"], str) and body["error"], where
    else:  # OpenAI's
        assert list(body) == ["error"], where
        assert sorted(body["error"]) == ["code", "message", "param", "type"], where


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@settings(
    max_examples=EXAMPLES_PER_ENDPOINT,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_client_mistake_is_a_server_error(
    fuzz: tuple[TestClient, dict[str, str]], endpoint: Endpoint, data: st.DataObject
) -> None:
    client, keys = fuzz
    request = data.draw(requests(endpoint))
    headers = dict(request["headers"])
    if request["who"] is not None:
        headers["authorization"] = f"Bearer {keys[request['who']]}"
    response = client.request(
        request["method"], request["url"], headers=headers, content=request["content"]
    )
    assert_well_formed(endpoint, response)


SWEPT = [e for e in ENDPOINTS if e.fields and not e.path.startswith("/console")]


@pytest.mark.parametrize("endpoint", SWEPT, ids=str)
def test_every_field_at_every_extreme(
    fuzz: tuple[TestClient, dict[str, str]], endpoint: Endpoint
) -> None:
    """The schema-driven sweep: each field of the route's body, one at a time, set to
    each extreme number (numeric fields) and each wrong or hostile value (all fields),
    the rest of the body valid."""
    client, keys = fuzz
    template = TEMPLATES.get(endpoint.path, {})
    url = endpoint.path
    for name in endpoint.params:
        url = re.sub(rf"{{{name}(:\w+)?}}", "x", url)
    headers = {"authorization": f"Bearer {keys['admin']}", "content-type": "application/json"}
    cases = [(f, v) for f in endpoint.numeric for v in NUMBERS]
    cases += [(f, v) for f in endpoint.fields for v in WRONG_VALUES]
    for field, value in cases:
        body = _dump({**template, field: value})
        response = client.request(endpoint.method, url, headers=headers, content=body)
        assert_well_formed(endpoint, response, f"{field}={value!r}")


def test_nul_in_any_path_or_query_is_a_400(fuzz: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = fuzz
    headers = {"authorization": f"Bearer {keys['admin']}"}
    for endpoint in ENDPOINTS:
        url = endpoint.path
        for name in endpoint.params:
            url = re.sub(rf"{{{name}(:\w+)?}}", "a%00b", url)
        if not endpoint.params:
            url += "?after=a%00b&limit=1"
        response = client.request(endpoint.method, url, headers=headers)
        assert response.status_code == 400, f"{endpoint}: {response.text[:200]}"
        assert_well_formed(endpoint, response, url)


def test_the_app_still_answers_afterwards(fuzz: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = fuzz
    assert client.get("/health").status_code == 200
    chat = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    answer = client.post(
        "/v1/chat/completions", json=chat, headers={"authorization": f"Bearer {keys['user']}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "ok"


def test_every_route_is_fuzzed() -> None:
    """A guard against the route walk silently finding nothing."""
    paths = {endpoint.path for endpoint in ENDPOINTS}
    assert {"/v1/chat/completions", "/admin/keys", "/health", "/retrieval"} <= paths
    assert len(ENDPOINTS) >= 50
