"""The official ``openai`` SDK, unmodified, against a real ``plinth serve``."""

from __future__ import annotations

import httpx
import openai
import pytest
from e2e_support import Server, eventually
from openai import AsyncOpenAI, OpenAI

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
EMBED = "all-minilm-l6-v2"


@pytest.fixture(scope="module")
def sdk(server: Server) -> OpenAI:
    return OpenAI(base_url=f"{server.base_url}/v1", api_key=server.admin_key, max_retries=0)


def ledger_row(server: Server, request_id: str) -> dict[str, object]:
    response = httpx.get(
        f"{server.base_url}/admin/usage/requests/{request_id}",
        headers={"authorization": f"Bearer {server.admin_key}"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_sync_chat(sdk: OpenAI, server: Server) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model=CHAT, messages=[{"role": "user", "content": "Say hello"}], max_tokens=8
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens <= 8
    row = ledger_row(server, raw.headers["x-request-id"])
    assert row["status"] == "ok"
    assert row["completion_tokens"] == completion.usage.completion_tokens
    assert row["prompt_tokens"] == completion.usage.prompt_tokens


def test_streaming_chat_with_usage(sdk: OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Count to five"}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and 1 <= chunks[-1].usage.completion_tokens <= 12


@pytest.mark.anyio
async def test_async_client_concurrent(server: Server) -> None:
    import asyncio

    client = AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key=server.admin_key)
    replies = await asyncio.gather(
        *(
            client.chat.completions.create(
                model=CHAT, messages=[{"role": "user", "content": f"Number {i}"}], max_tokens=6
            )
            for i in range(6)
        )
    )
    assert all(r.choices[0].message.content for r in replies)
    embedding = await client.embeddings.create(model=EMBED, input=["hello", "你好"])
    assert [len(d.embedding) for d in embedding.data] == [384, 384]
    await client.close()


def test_embeddings_base64_roundtrip(sdk: OpenAI) -> None:
    # The SDK asks for base64 by default and decodes it with numpy itself.
    result = sdk.embeddings.create(model=EMBED, input="Plinth serves embeddings")
    floats = sdk.embeddings.create(
        model=EMBED, input="Plinth serves embeddings", encoding_format="float"
    )
    assert result.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_legacy_completions_and_models(sdk: OpenAI) -> None:
    assert {m.id for m in sdk.models.list()} >= {CHAT, EMBED}
    completion = sdk.completions.create(model=CHAT, prompt="Once upon a time", max_tokens=5)
    assert completion.choices[0].text


def test_sdk_raises_typed_errors(sdk: OpenAI, server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        sdk.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert not_found.value.code == "model_not_found"
    bad_key = OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.models.list()
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "x"}], n=2)
    assert bad.value.param == "n"


def test_client_disconnect_stops_generation(server: Server) -> None:
    """Closing a stream mid-way ends generation: the ledger shows only what was sent."""
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Write a very long story about the sea."}],
        "max_tokens": 400,
        "stream": True,
    }
    headers = {"authorization": f"Bearer {server.admin_key}"}
    received = 0
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST", f"{server.base_url}/v1/chat/completions", json=body, headers=headers
        ) as response,
    ):
        request_id = response.headers["x-request-id"]
        for line in response.iter_lines():
            if line.startswith("data: ") and '"content":"' in line:
                received += 1
                if received == 3:
                    break
    # The connection is closed here; the server notices, cancels, and books the row.
    response = eventually(
        lambda: httpx.get(f"{server.base_url}/admin/usage/requests/{request_id}", headers=headers),
        lambda r: r.status_code == 200,
        within_s=20,
        what="a ledger row for the cancelled stream",
    )
    row = response.json()
    assert row["status"] == "client_disconnected"
    # Tokens generated before the cancel reached llama.cpp: the ones sent, plus the
    # few in flight on the socket; far from the 400 the request allowed.
    assert received <= row["completion_tokens"] < received + 10


def test_llama_cpp_log_is_quiet_by_default(server: Server) -> None:
    log = server.log_path.read_text(errors="replace")
    assert "Uvicorn running on" in log or "Application startup complete" in log
    assert "load_model" not in log and "llama" not in log.lower().replace("llamacpp", "")
