"""The Batch API in-process, on a fake upstream: create, run, validate, cancel, expire."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batchsupport import chat_line, create, file_lines, jsonl, upload, wait_for
from sqlalchemy import select, update
from starlette.testclient import TestClient

from gatewaysupport import ADMIN, UPSTREAM_KEY, AppFactory, deployment
from plinth.app import create_app
from plinth.settings import Settings
from plinth.store.schema import batch_lines, batches
from upstreamfake import FakeUpstream, Fault


@pytest.fixture
def up() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def app(gateway_app: AppFactory, up: FakeUpstream) -> TestClient:
    return gateway_app([deployment(up)])


def _ledger(app: TestClient, request_id: str) -> Any:
    response = app.get(f"/admin/usage/requests/{request_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_batch_runs_every_line_once_with_output_in_file_order(app: TestClient) -> None:
    app.post(
        "/admin/prices",
        json={"model": "gpt-fake", "per_request": "0.01", "batch_discount_percent": 50},
    )
    lines = [chat_line(f"req-{i}", f"hello number {i}") for i in range(6)]
    batch = create(app, upload(app, jsonl(lines)))
    assert batch["status"] == "validating" and batch["object"] == "batch"

    done = wait_for(app, batch["id"], ("completed", "failed"))
    assert done["status"] == "completed", done
    assert done["request_counts"] == {"total": 6, "completed": 6, "failed": 0}
    assert done["error_file_id"] is None
    output = file_lines(app, done["output_file_id"])
    assert [o["custom_id"] for o in output] == [f"req-{i}" for i in range(6)]
    for i, item in enumerate(output):
        response = item["response"]
        assert response["status_code"] == 200
        assert response["body"]["choices"][0]["message"]["content"] == f"hello number {i}"
        row = _ledger(app, response["request_id"])
        assert row["batch_id"] == batch["id"] and row["status"] == "ok"
        assert row["cost_micros"] == 5_000  # 0.01 per request, 50 % off in a batch


def test_interactive_requests_pay_full_price(app: TestClient) -> None:
    app.post(
        "/admin/prices",
        json={"model": "gpt-fake", "per_request": "0.01", "batch_discount_percent": 50},
    )
    response = app.post(
        "/v1/chat/completions",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]},
    )
    row = _ledger(app, response.headers["x-request-id"])
    assert row["batch_id"] is None and row["cost_micros"] == 10_000


def test_a_failing_line_goes_to_the_error_file_and_the_rest_complete(app: TestClient) -> None:
    lines = [chat_line("good", "fine"), chat_line("bad", "x", model="no-such-model")]
    done = wait_for(app, create(app, upload(app, jsonl(lines)))["id"], ("completed",))
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    assert [o["custom_id"] for o in file_lines(app, done["output_file_id"])] == ["good"]
    (error,) = file_lines(app, done["error_file_id"])
    assert error["custom_id"] == "bad"
    assert error["response"]["status_code"] == 404
    assert error["response"]["body"]["error"]["code"] == "model_not_found"


def test_embeddings_and_completions_lines(app: TestClient) -> None:
    completions = [
        {
            "custom_id": "c",
            "method": "POST",
            "url": "/v1/completions",
            "body": {"model": "gpt-fake", "prompt": "say this"},
        },
    ]
    done = wait_for(
        app, create(app, upload(app, jsonl(completions)), "/v1/completions")["id"], ("completed",)
    )
    (item,) = file_lines(app, done["output_file_id"])
    assert item["response"]["body"]["choices"][0]["text"] == "say this"
    embeddings = [
        {
            "custom_id": "e",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "gpt-fake", "input": "some text"},
        },
    ]
    done = wait_for(
        app, create(app, upload(app, jsonl(embeddings)), "/v1/embeddings")["id"], ("completed",)
    )
    (item,) = file_lines(app, done["output_file_id"])
    assert item["response"]["body"]["object"] == "list"
    assert item["response"]["body"]["data"][0]["embedding"]


def test_bad_lines_fail_the_batch_up_front_with_openai_line_errors(
    app: TestClient, up: FakeUpstream
) -> None:
    ok = chat_line("a", "fine")
    data = b"\n".join(
        [
            b"{not json",
            jsonl([ok]).strip(),
            jsonl([ok]).strip(),  # duplicate custom_id
            jsonl([{**chat_line("b", "x"), "url": "/v1/embeddings"}]).strip(),
            jsonl(
                [
                    {
                        "custom_id": "c",
                        "method": "POST",
                        "url": "/v1/chat/completions",
                        "body": {"model": "gpt-fake"},
                    }
                ]
            ).strip(),
            jsonl([{"method": "POST", "url": "/v1/chat/completions", "body": {}}]).strip(),
        ]
    )
    done = wait_for(app, create(app, upload(app, data))["id"], ("failed",))
    errors = {(e["line"], e["code"], e["param"]) for e in done["errors"]["data"]}
    assert errors == {
        (1, "invalid_json_line", None),
        (3, "duplicate_custom_id", "custom_id"),
        (4, "mismatched_endpoint", "url"),
        (5, "invalid_request", "body.messages"),
        (6, "missing_required_parameter", "custom_id"),
    }
    assert done["failed_at"] and done["request_counts"]["total"] == 0
    assert up.generation_requests() == []  # nothing ran


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (
            {
                "input_file_id": "file-nope",
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
            },
            404,
            "input_file_id",
        ),
        (
            {"input_file_id": "X", "endpoint": "/v1/images", "completion_window": "24h"},
            400,
            "endpoint",
        ),
        (
            {"input_file_id": "X", "endpoint": "/v1/chat/completions", "completion_window": "1w"},
            400,
            "completion_window",
        ),
        (
            {
                "input_file_id": "X",
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
                "metadata": {"k": 1},
            },
            400,
            "metadata",
        ),
    ],
)
def test_create_refuses_bad_parameters(
    app: TestClient, body: dict[str, Any], status: int, param: str
) -> None:
    file_id = upload(app, jsonl([chat_line("a", "b")]))
    body = {k: (file_id if v == "X" else v) for k, v in body.items()}
    response = app.post("/v1/batches", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param


def test_a_file_of_another_purpose_is_refused(app: TestClient) -> None:
    file_id = upload(app, jsonl([chat_line("a", "b")]), purpose="user_data")
    response = app.post(
        "/v1/batches",
        json={
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
    )
    assert response.status_code == 400 and "purpose" in response.json()["error"]["message"]


def _upstream_has(up: FakeUpstream, count: int, within_s: float = 10) -> None:
    deadline = time.monotonic() + within_s
    while len(up.generation_requests()) < count:
        assert time.monotonic() < deadline, "the batch's lines never reached the upstream"
        time.sleep(0.01)


def test_cancel_lets_running_lines_finish_and_runs_no_more(
    app: TestClient, up: FakeUpstream
) -> None:
    up.always(Fault.latency(1.0))
    lines = [chat_line(f"r{i}", f"text {i}") for i in range(8)]
    batch = create(app, upload(app, jsonl(lines)))
    _upstream_has(up, 1)
    cancelling = app.post(f"/v1/batches/{batch['id']}/cancel").json()
    assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"]
    done = wait_for(app, batch["id"], ("cancelled",))
    counts = done["request_counts"]
    assert counts["total"] == 8 and 1 <= counts["completed"] < 8 and counts["failed"] == 0
    assert len(up.generation_requests()) == counts["completed"]  # none started after the cancel
    assert len(file_lines(app, done["output_file_id"])) == counts["completed"]


def test_a_batch_past_its_window_expires_its_unrun_lines(app: TestClient, up: FakeUpstream) -> None:
    up.always(Fault.latency(1.0))
    lines = [chat_line(f"r{i}", f"text {i}") for i in range(5)]
    batch = create(app, upload(app, jsonl(lines)))
    _upstream_has(up, 1)
    runner = app.app.state.batches  # type: ignore[attr-defined]
    with runner.svc.db.engine.begin() as conn:  # the 24 h window, closed early
        conn.execute(update(batches).where(batches.c.id == batch["id"]).values(expires_at=0))
    done = wait_for(app, batch["id"], ("expired",))
    counts = done["request_counts"]
    assert counts["total"] == 5 and counts["completed"] + counts["failed"] == 5
    assert counts["completed"] == len(up.generation_requests()) < 5
    expired = file_lines(app, done["error_file_id"])
    assert len(expired) == counts["failed"]
    assert {e["error"]["code"] for e in expired} == {"batch_expired"}
    assert all(e["response"] is None for e in expired)


def test_batches_are_listed_newest_first_and_private_to_their_key(
    app: TestClient, up: FakeUpstream
) -> None:
    first = create(app, upload(app, jsonl([chat_line("a", "b")])))
    second = create(app, upload(app, jsonl([chat_line("a", "b")])))
    page = app.get("/v1/batches", params={"limit": 1}).json()
    assert [b["id"] for b in page["data"]] == [second["id"]] and page["has_more"]
    rest = app.get("/v1/batches", params={"after": second["id"]}).json()
    assert [b["id"] for b in rest["data"]] == [first["id"]] and not rest["has_more"]
    key = app.post("/admin/keys", json={"name": "other"}).json()["key"]
    other = {"authorization": f"Bearer {key}"}
    assert app.get("/v1/batches", headers=other).json()["data"] == []
    missing = app.get(f"/v1/batches/{first['id']}", headers=other)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"


def test_two_servers_on_one_database_share_a_batch_without_running_a_line_twice(
    gateway_app: AppFactory, up: FakeUpstream
) -> None:
    up.always(Fault.latency(0.05))
    one = gateway_app([deployment(up)])
    two = gateway_app([deployment(up)])  # same data dir: same database, its own runner
    lines = [chat_line(f"r{i}", f"text {i}") for i in range(16)]
    batch = create(one, upload(one, jsonl(lines)))
    done = wait_for(two, batch["id"], ("completed",))
    assert done["request_counts"] == {"total": 16, "completed": 16, "failed": 0}
    output = file_lines(one, done["output_file_id"])
    assert [o["custom_id"] for o in output] == [f"r{i}" for i in range(16)]
    assert len(up.generation_requests()) == 16  # each line went upstream once
    runners = {one.app.state.batches.owner, two.app.state.batches.owner}  # type: ignore[attr-defined]
    with one.app.state.batches.svc.db.engine.connect() as conn:  # type: ignore[attr-defined]
        owners = {row.owner for row in conn.execute(select(batch_lines.c.owner))}
    assert owners <= runners


def test_with_idle_s_no_line_starts_until_interactive_traffic_has_been_idle_that_long(
    tmp_path: Path, up: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_UPSTREAM_API_KEY", UPSTREAM_KEY)
    settings = Settings(
        data_dir=tmp_path,
        admin_key=ADMIN,  # type: ignore[arg-type]
        load_bundled_models=False,
        deployments=[deployment(up)],  # type: ignore[list-item]
        routing={"health_interval_s": 0},  # type: ignore[arg-type]
        batches={"idle_s": 3600},  # type: ignore[arg-type]
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as app:
        app.headers["authorization"] = f"Bearer {ADMIN}"
        chat = {"model": "gpt-fake", "messages": [{"role": "user", "content": "now"}]}
        assert app.post("/v1/chat/completions", json=chat).status_code == 200
        batch = create(app, upload(app, jsonl([chat_line("a", "later")])))
        wait_for(app, batch["id"], ("in_progress",))
        runner = app.app.state.batches  # type: ignore[attr-defined]
        app.portal.call(runner._tick)  # type: ignore[union-attr]  # a pass, run now
        assert len(up.generation_requests()) == 1  # only the interactive request went
        assert app.get(f"/v1/batches/{batch['id']}").json()["request_counts"]["completed"] == 0


def test_responses_lines_come_back_as_response_objects(app: TestClient) -> None:
    lines = [
        {
            "custom_id": "r",
            "method": "POST",
            "url": "/v1/responses",
            "body": {"model": "gpt-fake", "input": "answer this"},
        }
    ]
    batch = create(app, upload(app, jsonl(lines)), "/v1/responses")
    done = wait_for(app, batch["id"], ("completed", "failed"))
    assert done["status"] == "completed", done
    (item,) = file_lines(app, done["output_file_id"])
    body = item["response"]["body"]
    assert body["object"] == "response" and body["status"] == "completed"
    assert body["output"][-1]["content"][0]["text"] == "answer this"
    row = _ledger(app, item["response"]["request_id"])
    assert row["endpoint"] == "responses" and row["batch_id"] == batch["id"]
