"""``POST /v1/responses`` with ``file_search``, through the official ``openai`` SDK.

A live Plinth (uvicorn) sits in front of a fake upstream whose answers are
scripted, with citation markers, so the annotation mapping is checked exactly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from ragsupport import LiveServer

from gatewaysupport import ADMIN, UPSTREAM_KEY
from upstreamfake import FakeUpstream, Fault

MODEL = "gpt-fake"
PARIS = "Paris is the capital of France. The Eiffel Tower stands in Paris on the Seine."
TOKYO = "Tokyo is the capital of Japan. Mount Fuji can be seen from Tokyo on clear days."
BREAD = "Sourdough bread needs flour, water, salt and a lively starter culture."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, FakeUpstream]]:
    previous = os.environ.get("FAKE_UPSTREAM_API_KEY")
    os.environ["FAKE_UPSTREAM_API_KEY"] = UPSTREAM_KEY
    try:
        with (
            FakeUpstream() as upstream,
            LiveServer(tmp_path_factory.mktemp("rag"), upstream) as server,
        ):
            server.create_store("vs_geo")
            server.create_store("vs_food")
            server.add_document("vs_geo", "file-paris", "paris.txt", PARIS, {"region": "europe"})
            server.add_document("vs_geo", "file-tokyo", "tokyo.txt", TOKYO, {"region": "asia"})
            server.add_document("vs_food", "file-bread", "bread.md", BREAD)
            yield server, upstream
    finally:
        if previous is None:
            os.environ.pop("FAKE_UPSTREAM_API_KEY", None)
        else:
            os.environ["FAKE_UPSTREAM_API_KEY"] = previous


@pytest.fixture
def server(live: tuple[LiveServer, FakeUpstream]) -> LiveServer:
    return live[0]


@pytest.fixture
def upstream(live: tuple[LiveServer, FakeUpstream]) -> Iterator[FakeUpstream]:
    up = live[1]
    up.requests.clear()
    yield up
    up.reply = None
    up.always(None)


def ledger_rows(server: LiveServer, request_id: str) -> list[dict[str, Any]]:
    rows = server.admin_get("/admin/usage/requests?limit=1000")["data"]
    return [r for r in rows if r["request_id"] == request_id]


def last_prompt(upstream: FakeUpstream) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = upstream.generation_requests()[-1].body["messages"]  # type: ignore[index]
    return messages


FILE_SEARCH = {"type": "file_search", "vector_store_ids": ["vs_geo", "vs_food"]}


def test_file_search_answer_cites_the_retrieved_file(
    server: LiveServer, upstream: FakeUpstream
) -> None:
    upstream.reply = "Paris is the capital of France [1]. It has the Eiffel Tower [1]."
    raw = server.sdk().responses.with_raw_response.create(
        model=MODEL,
        input="What is the capital of France?",
        tools=[FILE_SEARCH],  # type: ignore[list-item]
        include=["file_search_call.results"],
    )
    response = raw.parse()

    assert response.status == "completed" and response.object == "response"
    assert response.id.startswith("resp_")
    search, message = response.output
    assert search.type == "file_search_call" and search.status == "completed"
    assert search.id.startswith("fs_")
    assert search.queries == ["What is the capital of France?"]
    assert search.results is not None and search.results[0].file_id == "file-paris"
    assert search.results[0].filename == "paris.txt"
    assert search.results[0].text == PARIS
    assert search.results[0].attributes == {"region": "europe"}
    assert 0 < (search.results[0].score or 0) <= 1

    assert message.type == "message" and message.id.startswith("msg_")
    text = "Paris is the capital of France. It has the Eiffel Tower."
    assert response.output_text == text
    annotations = [a.model_dump() for a in message.content[0].annotations]  # type: ignore[union-attr]
    cite = {"type": "file_citation", "file_id": "file-paris", "filename": "paris.txt"}
    assert annotations == [
        {**cite, "index": text.index(". It")},
        {**cite, "index": len(text) - 1},
    ]

    # The model was grounded: numbered sources with the chunk text, then the question.
    grounded = last_prompt(upstream)[-1]["content"]
    assert "[1] paris.txt\n" + PARIS in grounded
    assert "by its number in square brackets" in grounded
    assert grounded.endswith("Question: What is the capital of France?")
    # No max_output_tokens: a grounded answer still has a bound (rag.prompt).
    assert upstream.generation_requests()[-1].body["max_tokens"] == 512  # type: ignore[index]

    # Billed and metered as a chat completion: one ledger row, the same tokens.
    request_id = raw.headers["x-request-id"]
    assert response.id == "resp_" + request_id.removeprefix("req_")
    [row] = ledger_rows(server, request_id)
    assert row["endpoint"] == "responses" and row["status"] == "ok"
    assert response.usage is not None
    assert row["prompt_tokens"] == response.usage.input_tokens > 0
    assert row["completion_tokens"] == response.usage.output_tokens > 0
    assert response.usage.total_tokens == row["prompt_tokens"] + row["completion_tokens"]


def test_results_only_with_include_and_no_citation_no_annotation(
    server: LiveServer, upstream: FakeUpstream
) -> None:
    upstream.reply = "France's capital is Paris."
    response = server.sdk().responses.create(
        model=MODEL,
        input="capital of France",
        tools=[{**FILE_SEARCH, "max_num_results": 1}],  # type: ignore[list-item]
    )
    search, message = response.output
    assert search.type == "file_search_call" and search.results is None
    assert message.content[0].annotations == []  # type: ignore[union-attr]
    assert response.output_text == "France's capital is Paris."
    assert response.tools[0].max_num_results == 1  # type: ignore[union-attr]
    # Only one source reached the model.
    grounded = last_prompt(upstream)[-1]["content"]
    assert "[1] paris.txt" in grounded and "\n[2] " not in grounded


def test_filters_and_score_threshold_narrow_the_search(
    server: LiveServer, upstream: FakeUpstream
) -> None:
    upstream.reply = "Tokyo [1]."
    tool = {
        **FILE_SEARCH,
        "filters": {"type": "eq", "key": "region", "value": "asia"},
    }
    response = server.sdk().responses.create(
        model=MODEL,
        input="capital city",
        tools=[tool],  # type: ignore[list-item]
        include=["file_search_call.results"],
    )
    results = response.output[0].results  # type: ignore[union-attr]
    assert [r.file_id for r in results] == ["file-tokyo"]
    assert response.output[1].content[0].annotations[0].file_id == "file-tokyo"  # type: ignore[union-attr]

    # A threshold no hit reaches: the model is told the search found nothing.
    strict = {**FILE_SEARCH, "ranking_options": {"ranker": "auto", "score_threshold": 0.9999}}
    upstream.reply = "I found nothing."
    response = server.sdk().responses.create(
        model=MODEL,
        input="Mount Fuji sourdough",
        tools=[strict],  # type: ignore[list-item]
        include=["file_search_call.results"],
    )
    kept = response.output[0].results or []  # type: ignore[union-attr]
    assert all((r.score or 0) >= 0.9999 for r in kept)
    if not kept:
        assert "found nothing relevant" in last_prompt(upstream)[-1]["content"]


def test_in_and_nin_filters_reach_the_search(server: LiveServer, upstream: FakeUpstream) -> None:
    upstream.reply = "Cities [1]."
    for flt, expected in [
        ({"type": "in", "key": "region", "value": ["asia", "africa"]}, ["file-tokyo"]),
        ({"type": "nin", "key": "region", "value": ["asia"]}, ["file-paris"]),
    ]:
        response = server.sdk().responses.create(
            model=MODEL,
            input="capital city",
            tools=[{**FILE_SEARCH, "filters": flt}],  # type: ignore[list-item]
            include=["file_search_call.results"],
        )
        results = response.output[0].results or []  # type: ignore[union-attr]
        assert [r.file_id for r in results] == expected


def test_streamed_events_follow_openais_order(server: LiveServer, upstream: FakeUpstream) -> None:
    upstream.reply = "Paris is the capital [1]. Tokyo is another [2]."
    events = list(
        server.sdk().responses.create(
            model=MODEL,
            input="What is the capital of France or Japan?",
            tools=[{**FILE_SEARCH, "vector_store_ids": ["vs_geo"]}],  # type: ignore[list-item]
            include=["file_search_call.results"],
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    collapsed = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
    assert collapsed[:9] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert collapsed[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    middle = set(collapsed[9:-4])
    assert middle == {"response.output_text.delta", "response.output_text.annotation.added"}

    final = events[-1].response  # type: ignore[union-attr]
    text = "Paris is the capital. Tokyo is another."
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert deltas == text == final.output_text
    added = [e for e in events if e.type == "response.output_text.annotation.added"]
    results = final.output[0].results
    by_number = {n: r.file_id for n, r in enumerate(results, 1)}
    found = [(a.annotation_index, a.annotation.index, a.annotation.file_id) for a in added]  # type: ignore[union-attr]
    assert found == [(0, text.index(". Tokyo"), by_number[1]), (1, len(text) - 1, by_number[2])]
    annotations = final.output[1].content[0].annotations  # type: ignore[union-attr]
    assert [a.model_dump() for a in annotations] == [a.annotation.model_dump() for a in added]  # type: ignore[union-attr]
    assert final.usage.output_tokens > 0
    # The annotation sits where the deltas say: after the text sent before it.
    position = 0
    for event in events:
        if event.type == "response.output_text.delta":
            position += len(event.delta)
        if event.type == "response.output_text.annotation.added":
            assert event.annotation.index == position  # type: ignore[union-attr]


def test_stream_helper_and_one_ledger_row(server: LiveServer, upstream: FakeUpstream) -> None:
    upstream.reply = "The Eiffel Tower is in Paris [1]."
    with server.sdk().responses.stream(
        model=MODEL,
        input="Where is the Eiffel Tower?",
        tools=[FILE_SEARCH],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_response()
    assert final.output_text == "The Eiffel Tower is in Paris."
    annotation = final.output[1].content[0].annotations[0]  # type: ignore[union-attr]
    assert annotation.file_id == "file-paris" and annotation.index == len(final.output_text) - 1
    request_id = "req_" + final.id.removeprefix("resp_")
    [row] = ledger_rows(server, request_id)
    assert row["status"] == "ok" and row["endpoint"] == "responses"
    assert row["completion_tokens"] == final.usage.output_tokens  # type: ignore[union-attr]


def test_plain_chat_without_tools(server: LiveServer, upstream: FakeUpstream) -> None:
    upstream.reply = "Hello [1] there."
    response = server.sdk().responses.create(
        model=MODEL,
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Speak English."},
            {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        ],
        temperature=0.2,
        max_output_tokens=20,
        metadata={"case": "plain"},
    )
    assert [item.type for item in response.output] == ["message"]
    assert response.output_text == "Hello [1] there."  # no sources: markers are plain text
    assert response.metadata == {"case": "plain"} and response.tools == []
    sent = upstream.generation_requests()[-1].body
    assert sent is not None
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Speak English."},
        {"role": "user", "content": "Hi"},
    ]
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 20


def test_tool_choice_none_skips_the_search(server: LiveServer, upstream: FakeUpstream) -> None:
    upstream.reply = None  # echo
    response = server.sdk().responses.create(
        model=MODEL,
        input="capital of France",
        tools=[FILE_SEARCH],
        tool_choice="none",  # type: ignore[list-item]
    )
    assert [item.type for item in response.output] == ["message"]
    assert response.output_text == "capital of France"
    assert response.tool_choice == "none"


def test_chinese_document_and_query(server: LiveServer, upstream: FakeUpstream) -> None:
    server.create_store("vs_zh")
    server.add_document(
        "vs_zh", "file-zh", "长城.txt", "长城是中国古代的军事防御工程，总长度超过两万公里。"
    )
    server.add_document("vs_zh", "file-zh2", "熊猫.txt", "大熊猫生活在四川的竹林里。")
    upstream.reply = "长城总长度超过两万公里【1】。"
    response = server.sdk().responses.create(
        model=MODEL,
        input="长城有多长？",
        tools=[{"type": "file_search", "vector_store_ids": ["vs_zh"]}],
        include=["file_search_call.results"],
    )
    assert response.output[0].results[0].filename == "长城.txt"  # type: ignore[union-attr,index]
    assert response.output_text == "长城总长度超过两万公里。"
    [annotation] = response.output[1].content[0].annotations  # type: ignore[union-attr]
    assert (annotation.file_id, annotation.filename, annotation.index) == (
        "file-zh",
        "长城.txt",
        len("长城总长度超过两万公里"),
    )
    assert "长城是中国古代的军事防御工程" in last_prompt(upstream)[-1]["content"]


def test_failure_after_the_stream_started_is_reported(
    server: LiveServer, upstream: FakeUpstream
) -> None:
    upstream.reply = "Paris is the capital of France and more words follow"
    upstream.push(Fault.reset_during_stream(3))
    events = list(
        server.sdk().responses.create(
            model=MODEL,
            input="capital of France",
            tools=[FILE_SEARCH],
            stream=True,  # type: ignore[list-item]
        )
    )
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert events[-2].message  # type: ignore[union-attr]
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed" and failed.error.code == "server_error"
    request_id = "req_" + failed.id.removeprefix("resp_")
    [row] = ledger_rows(server, request_id)
    assert row["status"] == "error"


@pytest.mark.parametrize(
    ("tools", "extra", "status", "param", "words"),
    [
        ([{"type": "file_search", "vector_store_ids": ["vs_missing"]}], {}, 404,
         "tools[0].vector_store_ids", "vs_missing"),
        ([{**FILE_SEARCH, "filters": {"type": "near", "key": "a", "value": 1}}], {}, 400,
         "tools[0].filters", "filter"),
        ([{**FILE_SEARCH, "max_num_results": 51}], {}, 400, "tools[0].max_num_results", ""),
        ([{"type": "web_search_preview"}], {}, 400, "tools[0].type", "file_search"),
        ([], {"previous_response_id": "resp_x"}, 400, "previous_response_id", "input"),
        ([], {"include": ["message.output_text.logprobs"]}, 400, "include[0]", "include"),
        ([], {"tool_choice": "required"}, 400, "tool_choice", "file_search"),
        ([], {"input": [{"role": "user", "content": [{"type": "input_image"}]}]}, 400,
         "input[0].content[0].type", "input_text"),
        ([], {"reasoning": {"effort": "low"}}, 400, "reasoning", "reasoning"),
    ],
)  # fmt: skip
def test_client_mistakes_are_4xx_naming_the_parameter(
    server: LiveServer,
    upstream: FakeUpstream,
    tools: list[dict[str, Any]],
    extra: dict[str, Any],
    status: int,
    param: str,
    words: str,
) -> None:
    body = {"model": MODEL, "input": "capital of France", "tools": tools, **extra}
    for stream in (False, True):
        response = httpx.post(
            f"{server.base_url}/v1/responses",
            json={**body, "stream": stream},
            headers={"authorization": f"Bearer {ADMIN}"},
        )
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["param"] == param
        assert words in error["message"]
    assert upstream.generation_requests() == []


def test_sdk_raises_not_found_for_an_unknown_store(server: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError, match="vs_nope"):
        server.sdk().responses.create(
            model=MODEL,
            input="hello",
            tools=[{"type": "file_search", "vector_store_ids": ["vs_nope"]}],
        )


# --- whose stores a key may search -------------------------------------------------------


def new_key(server: LiveServer, name: str) -> tuple[str, str]:
    """A fresh non-admin key: (the secret, its id)."""
    response = httpx.post(
        f"{server.base_url}/admin/keys",
        json={"name": name},
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 201, response.text
    return response.json()["key"], response.json()["id"]


def search_as(server: LiveServer, key: str, store_ids: list[str], stream: bool) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/responses",
        json={
            "model": MODEL,
            "input": "When is the launch?",
            "tools": [{"type": "file_search", "vector_store_ids": store_ids}],
            "include": ["file_search_call.results"],
            "stream": stream,
        },
        headers={"authorization": f"Bearer {key}"},
    )


@pytest.fixture(scope="module")
def owners(live: tuple[LiveServer, FakeUpstream]) -> tuple[str, str]:
    """Key A owns ``vs_a_secret``; key B owns ``vs_b_own``. Returns (A's key, B's key)."""
    server = live[0]
    key_a, id_a = new_key(server, "owner-a")
    key_b, id_b = new_key(server, "owner-b")
    server.create_store("vs_a_secret", key_id=id_a)
    server.add_document("vs_a_secret", "file-launch", "launch.txt", "The launch is on 3 May.")
    server.create_store("vs_b_own", key_id=id_b)
    server.add_document("vs_b_own", "file-b", "b.txt", "Key B keeps its launch notes here.")
    return key_a, key_b


def test_a_key_searches_only_its_own_stores(
    server: LiveServer, upstream: FakeUpstream, owners: tuple[str, str]
) -> None:
    key_a, key_b = owners
    upstream.reply = "On 3 May [1]."
    mine = search_as(server, key_a, ["vs_a_secret"], stream=False)
    assert mine.status_code == 200, mine.text
    [call, _] = mine.json()["output"]
    assert [r["filename"] for r in call["results"]] == ["launch.txt"]
    upstream.requests.clear()

    def error(response: httpx.Response, store_id: str) -> dict[str, Any]:
        assert response.status_code == 404, response.text
        body: dict[str, Any] = response.json()["error"]
        # Named, but otherwise word for word what an unknown store gets.
        assert store_id in body["message"]
        return {**body, "message": body["message"].replace(store_id, "<id>")}

    for stream in (False, True):
        unknown = error(search_as(server, key_b, ["vs_never_made"], stream), "vs_never_made")
        assert unknown["param"] == "tools[0].vector_store_ids"
        # Another key's store, alone or next to one of B's own; and the admin's stores.
        for ids, hidden in [
            (["vs_a_secret"], "vs_a_secret"),
            (["vs_b_own", "vs_a_secret"], "vs_a_secret"),
            (["vs_geo"], "vs_geo"),
        ]:
            assert error(search_as(server, key_b, ids, stream), hidden) == unknown
    # Nothing was searched for the model on B's behalf.
    assert upstream.generation_requests() == []

    upstream.reply = "B's notes [1]."
    own = search_as(server, key_b, ["vs_b_own"], stream=False)
    assert own.status_code == 200, own.text
    assert [r["file_id"] for r in own.json()["output"][0]["results"]] == ["file-b"]


def test_an_admin_searches_every_store(
    server: LiveServer, upstream: FakeUpstream, owners: tuple[str, str]
) -> None:
    upstream.reply = "On 3 May [1]."
    response = server.sdk().responses.create(
        model=MODEL,
        input="When is the launch?",
        tools=[{"type": "file_search", "vector_store_ids": ["vs_a_secret", "vs_b_own"]}],
        include=["file_search_call.results"],
    )
    results = response.output[0].results or []  # type: ignore[union-attr]
    assert {r.filename for r in results} == {"launch.txt", "b.txt"}
    cited = response.output[1].content[0].annotations[0]  # type: ignore[union-attr]
    # [1] is the best hit, named for the admin too.
    assert cited.filename == results[0].filename  # type: ignore[union-attr]


def test_an_expired_store_is_refused_like_the_search_endpoint(
    server: LiveServer, upstream: FakeUpstream, owners: tuple[str, str]
) -> None:
    key_a, key_b = owners
    vs = server.services.vector_stores
    assert vs is not None
    server.create_store("vs_stale", key_id=None, expires_after_days=1)
    vs.catalog.update_store("vs_stale", {"last_active_at": 1_000})  # long ago
    own = vs.catalog.get_store("vs_a_secret", key_id=None)
    assert own is not None
    vs.catalog.update_store("vs_a_secret", {"expires_after_days": 1, "last_active_at": 1_000})
    try:
        for stream in (False, True):
            response = search_as(server, ADMIN, ["vs_geo", "vs_stale"], stream)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["code"] == "vector_store_expired"
            assert error["param"] == "tools[0].vector_store_ids"
            assert "vs_stale" in error["message"]
            # The search endpoint agrees.
            direct = httpx.post(
                f"{server.base_url}/v1/vector_stores/vs_stale/search",
                json={"query": "capital"},
                headers={"authorization": f"Bearer {ADMIN}"},
            )
            assert (direct.status_code, direct.json()["error"]["code"]) == (
                400,
                "vector_store_expired",
            )
            # Someone else's expired store is still just "not found" (no existence leak).
            assert search_as(server, key_b, ["vs_a_secret"], stream).status_code == 404
            assert search_as(server, key_a, ["vs_a_secret"], stream).status_code == 400
        assert upstream.generation_requests() == []
    finally:
        vs.catalog.update_store(
            "vs_a_secret",
            {"expires_after_days": own.expires_after_days, "last_active_at": own.last_active_at},
        )
