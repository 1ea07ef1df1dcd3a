"""Pass-through endpoints against fake upstreams on loopback: real HTTP both ways.

What must hold: the body reaches a deployment that declares the endpoint,
under the upstream's model name (multipart uploads byte for byte); binary
answers come back untouched; failover, budgets, privacy and the ledger apply
as for chat; a route no deployment serves is a 404 saying what to configure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from gatewaysupport import UPSTREAM_KEY, AppFactory
from passthroughfake import SPEECH_BYTES, PassthroughUpstream
from plinth.cli import main

ALL = [
    "rerank",
    "audio.transcriptions",
    "audio.translations",
    "audio.speech",
    "images.generations",
    "moderations",
]
AUDIO = bytes(range(256)) * 80  # 20,480 bytes, not UTF-8


@pytest.fixture
def fake() -> Iterator[PassthroughUpstream]:
    with PassthroughUpstream() as up:
        yield up


def spec(up: PassthroughUpstream, model: str, **fields: Any) -> dict[str, Any]:
    return {
        "model": model,
        "base_url": up.base_url,
        "api_key_env": "FAKE_UPSTREAM_API_KEY",
        "upstream_model": f"up-{model}",
        "endpoints": ALL,
        **fields,
    }


def row(client: TestClient, response: Any) -> dict[str, Any]:
    found = client.get(f"/admin/usage/requests/{response.headers['x-request-id']}")
    assert found.status_code == 200, found.text
    return dict(found.json())


def tenant_headers(client: TestClient, **key: Any) -> dict[str, str]:
    client.post("/admin/tenants", json={"name": "acme"})
    made = client.post("/admin/keys", json={"name": "app", "tenant": "acme", **key}).json()
    return {"authorization": f"Bearer {made['key']}"}


def rerank(model: str = "ranker", **extra: Any) -> dict[str, Any]:
    docs = ["short", "a much longer document", "medium text"]
    return {"model": model, "query": "which is longest?", "documents": docs} | extra


def test_rerank_is_forwarded_priced_in_search_units_and_booked(
    gateway_app: AppFactory, fake: PassthroughUpstream
) -> None:
    client = gateway_app([spec(fake, "ranker")])
    price = client.post("/admin/prices", json={"model": "ranker", "per_search_unit": "0.002"})
    assert price.status_code == 201, price.text
    assert price.json()["per_search_unit"] == "0.002"
    headers = tenant_headers(client)
    response = client.post("/v1/rerank", json=rerank(top_n=2, custom_flag=True), headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"] == "ranker"  # the client's name, not "up-ranker"
    assert [r["index"] for r in answer["results"]] == [1, 2]
    sent = fake.seen[-1]
    assert sent.json is not None and sent.json["model"] == "up-ranker"
    assert sent.json["custom_flag"] is True and sent.json["top_n"] == 2  # extensions pass
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    booked = row(client, response)
    assert (booked["endpoint"], booked["unit"], booked["units"]) == ("rerank", "search_unit", 1)
    assert booked["cost_micros"] == 2_000 and booked["status"] == "ok"
    period = datetime.now(UTC).strftime("%Y-%m")
    invoice = client.get(f"/admin/tenants/acme/invoices/{period}").json()
    assert [(x["model"], x["units"], x["unit"]) for x in invoice["lines"]] == [
        ("ranker", 1, "search_unit")
    ]
    csv_text = client.get(f"/admin/tenants/acme/invoices/{period}?format=csv").text
    assert "usage,ranker,1,0,0,1 search_unit,0.002" in csv_text


def test_transcription_upload_reaches_the_upstream_byte_for_byte(
    gateway_app: AppFactory, fake: PassthroughUpstream
) -> None:
    client = gateway_app([spec(fake, "whisper-1")])
    client.post("/admin/prices", json={"model": "whisper-1", "per_audio_second": "0.0001"})
    response = client.post(
        "/v1/audio/transcriptions",
        data={
            "model": "whisper-1",
            "language": "en",
            "timestamp_granularities[]": ["word", "segment"],
        },
        files={"file": ("talk.mp3", AUDIO, "audio/mpeg")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "hello from audio"
    sent = fake.seen[-1]
    assert sent.path == "/v1/audio/transcriptions" and sent.file == AUDIO
    assert sent.filename == "talk.mp3"
    assert sent.fields["model"] == "up-whisper-1" and sent.fields["language"] == "en"
    repeated = [v for k, v in sent.pairs if k == "timestamp_granularities[]"]
    assert repeated == ["word", "segment"]
    booked = row(client, response)
    # The upstream reported 7.2 s: billed as 8 whole seconds.
    assert (booked["unit"], booked["units"], booked["usage_source"]) == (
        "audio_second",
        8,
        "upstream",
    )
    assert booked["cost_micros"] == 800

    text = client.post(
        "/v1/audio/translations",
        data={"model": "whisper-1", "response_format": "text"},
        files={"file": ("talk.wav", AUDIO, "audio/wav")},
    )
    assert text.status_code == 200 and text.text == "hello from audio\n"
    assert text.headers["content-type"].startswith("text/plain")
    # No duration reported: estimated from the size (20,480 B at 2,000 B/s → 11 s).
    assert (row(client, text)["units"], row(client, text)["usage_source"]) == (11, "estimate")

    not_multipart = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"})
    assert not_multipart.status_code == 400, not_multipart.text
    assert "multipart/form-data" in not_multipart.json()["error"]["message"]
    missing = client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1"},
        files={"audio": ("talk.mp3", AUDIO, "audio/mpeg")},
    )
    assert missing.status_code == 400, missing.text
    assert missing.json()["error"]["param"] == "file"


def test_speech_streams_binary_audio_back_untouched(
    gateway_app: AppFactory, fake: PassthroughUpstream
) -> None:
    client = gateway_app([spec(fake, "tts-1")])
    client.post("/admin/prices", json={"model": "tts-1", "per_1k_characters": "0.015"})
    response = client.post(
        "/v1/audio/speech", json={"model": "tts-1", "input": "Hello world", "voice": "alloy"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.content == SPEECH_BYTES
    booked = row(client, response)
    # 11 characters at 0.015 per 1,000, rounded up to a whole micro-unit.
    assert (booked["unit"], booked["units"], booked["cost_micros"]) == ("character", 11, 165)


def test_images_and_moderations(gateway_app: AppFactory, fake: PassthroughUpstream) -> None:
    client = gateway_app([spec(fake, "dall-e-3"), spec(fake, "omni-moderation-latest")])
    images = client.post(
        "/v1/images/generations", json={"model": "dall-e-3", "prompt": "a cat", "n": 2}
    )
    assert images.status_code == 200, images.text
    assert len(images.json()["data"]) == 2
    assert (row(client, images)["unit"], row(client, images)["units"]) == ("image", 2)
    moderation = client.post("/v1/moderations", json={"input": ["fine", "also fine"]})
    assert moderation.status_code == 200, moderation.text
    assert moderation.json()["model"] == "omni-moderation-latest"  # OpenAI's default model
    assert row(client, moderation)["units"] == len("fine") + len("also fine")


def test_fails_over_to_the_next_deployment(gateway_app: AppFactory) -> None:
    with PassthroughUpstream() as first, PassthroughUpstream() as second:
        client = gateway_app(
            [spec(first, "ranker", priority=0), spec(second, "ranker", priority=1)]
        )
        first.fail_next(503)
        response = client.post("/v1/rerank", json=rerank())
        assert response.status_code == 200, response.text
        assert len(first.seen) == 1 and len(second.seen) == 1
        booked = row(client, response)
        assert booked["attempts"] == 2 and booked["deployment"].endswith(f":{second.port}")
        failed = booked["failed_attempts"]
        assert len(failed) == 1 and "(503)" in failed[0]["message"]


def test_a_budget_refuses_before_the_upstream_is_called(
    gateway_app: AppFactory, fake: PassthroughUpstream
) -> None:
    client = gateway_app([spec(fake, "dall-e-3")])
    client.post("/admin/prices", json={"model": "dall-e-3", "per_image": "0.04"})
    headers = tenant_headers(client)
    key_id = client.get("/admin/keys").json()["data"][-1]["id"]
    limit = client.put(f"/admin/limits/key:{key_id}", json={"spend": "0.1", "spend_period": "day"})
    assert limit.status_code == 200, limit.text
    body = {"model": "dall-e-3", "prompt": "a cat", "n": 3}  # worst case 0.12 > 0.1
    refused = client.post("/v1/images/generations", json=body, headers=headers)
    assert refused.status_code == 402, refused.text
    assert fake.seen == []
    assert row(client, refused)["status"] == "error"
    ok = client.post("/v1/images/generations", json={**body, "n": 2}, headers=headers)
    assert ok.status_code == 200, ok.text


def test_privacy_redacts_a_rerank_query_for_a_cloud_deployment(
    gateway_app: AppFactory, fake: PassthroughUpstream
) -> None:
    client = gateway_app([spec(fake, "ranker")])
    key = client.post("/admin/keys", json={"name": "r", "privacy_policy": "redact"}).json()
    email = "zhang.wei@example.com"
    body = rerank(query=f"documents about {email}", return_documents=True)
    body["documents"] = [f"write to {email} today", "nothing here"]
    response = client.post(
        "/v1/rerank", json=body, headers={"authorization": f"Bearer {key['key']}"}
    )
    assert response.status_code == 200, response.text
    sent = fake.seen[-1].json
    assert sent is not None and email not in str(sent)
    assert "[EMAIL_1]" in sent["query"] and "[EMAIL_1]" in sent["documents"][0]
    # The documents the upstream echoes come back with the value restored.
    echoed = {r["document"]["text"] for r in response.json()["results"]}
    assert f"write to {email} today" in echoed
    assert row(client, response)["deployment"] is not None


def test_a_route_no_deployment_serves_is_a_404_saying_what_to_configure(
    gateway_app: AppFactory, fake: PassthroughUpstream
) -> None:
    client = gateway_app([spec(fake, "chat-only", endpoints=[])])
    response = client.post("/v1/rerank", json=rerank(model="chat-only"))
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert 'endpoints = ["rerank"]' in error["message"] and "chat-only@" in error["message"]
    unknown = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "hi"})
    assert unknown.status_code == 404
    message = unknown.json()["error"]["message"]
    assert "no deployment serves model 'tts-1'" in message
    assert 'model = "tts-1" and endpoints = ["audio.speech"]' in message
    assert fake.seen == []


def test_cli_adds_a_deployment_with_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLINTH_CONFIG", str(tmp_path / "plinth.toml"))
    data = ["--data-dir", str(tmp_path)]
    upstream = ["--model", "bge-reranker", "--base-url", "http://tei.test/v1"]
    added = CliRunner().invoke(
        main, ["deployments", "add", *upstream, "--endpoint", "rerank", *data]
    )
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(main, ["deployments", "list", "--format", "json", *data])
    assert [d["endpoints"] for d in json.loads(listed.output)] == [["rerank"]]
    wrong = CliRunner().invoke(main, ["deployments", "add", *upstream, "--endpoint", "x", *data])
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output


def test_a_tei_deployment_is_spoken_to_in_teis_shape(
    gateway_app: AppFactory, fake: PassthroughUpstream
) -> None:
    tei = {
        "model": "bge-reranker",
        "base_url": f"http://127.0.0.1:{fake.port}",  # TEI serves /rerank at its root
        "endpoints": ["rerank"],
        "rerank_format": "tei",
    }
    client = gateway_app([tei], health_interval_s=0)
    body = rerank(model="bge-reranker", top_n=2, return_documents=True)
    response = client.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["index"], r["relevance_score"]) for r in results] == [(1, 0.9), (2, 0.8)]
    assert results[0]["document"] == {"text": "a much longer document"}
    sent = fake.seen[-1]
    assert sent.path == "/rerank" and sent.json is not None
    assert sent.json["texts"] == body["documents"] and sent.json["return_text"] is True
    assert "documents" not in sent.json and "model" not in sent.json
    router = client.app.app.state.services.router  # type: ignore[attr-defined]
    client.portal.call(router.check_health)  # type: ignore[union-attr]
    assert [state.healthy for state in router.states()] == [True]  # probed at /health
