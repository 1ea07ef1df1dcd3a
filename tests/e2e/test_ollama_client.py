"""The official ``ollama`` Python client, unmodified, against a real ``plinth serve``.

The client is given Plinth's key as Ollama clients send one (a bearer
header). Tool calls come from a fake OpenAI-compatible upstream (real HTTP on
loopback) added to the running server as a deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest
from e2e_support import Server

from toolupstream import ARGUMENTS, ToolCallingUpstream

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
EMBED = "all-minilm-l6-v2"
TOOLS_MODEL = "e2e-ollama-tools"


def admin(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {server.admin_key}"}
    return httpx.request(method, f"{server.base_url}{path}", headers=headers, **kwargs)


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    response = admin(server, "POST", "/admin/keys", json={"name": "e2e-ollama"})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture(scope="module")
def client(server: Server, key: str) -> ollama.Client:
    return ollama.Client(host=server.base_url, headers={"authorization": f"Bearer {key}"})


def test_chat_whole_and_streamed(client: ollama.Client) -> None:
    reply = client.chat(
        model=CHAT,
        messages=[{"role": "user", "content": "Say hello"}],
        options={"num_predict": 8, "temperature": 0},
    )
    assert reply.message.role == "assistant" and reply.message.content
    assert reply.done and reply.done_reason in {"stop", "length"}
    assert reply.eval_count is not None and 0 < reply.eval_count <= 8
    assert reply.prompt_eval_count and reply.total_duration and reply.total_duration > 0
    parts = list(
        client.chat(
            model=CHAT,
            messages=[{"role": "user", "content": "Count to five"}],
            options={"num_predict": 10},
            stream=True,
        )
    )
    assert "".join(p.message.content or "" for p in parts)
    assert parts[-1].done and not any(p.done for p in parts[:-1])
    assert parts[-1].eval_count is not None and 0 < parts[-1].eval_count <= 10


def test_generate(client: ollama.Client) -> None:
    answer = client.generate(model=CHAT, prompt="Why is the sky blue?", options={"num_predict": 8})
    assert answer.response and answer.done and answer.eval_count
    pieces = list(client.generate(model=CHAT, prompt="Hi", options={"num_predict": 4}, stream=True))
    assert pieces[-1].done and "".join(p.response or "" for p in pieces)


def test_embed_and_embeddings(client: ollama.Client) -> None:
    embedded = client.embed(model=EMBED, input=["hello", "你好"])
    assert [len(v) for v in embedded.embeddings] == [384, 384]
    assert embedded.prompt_eval_count
    old = client.embeddings(model=EMBED, prompt="hello")
    assert len(old.embedding) == 384


def test_list_show_ps_version(client: ollama.Client, server: Server) -> None:
    listed = {m.model for m in client.list().models}
    assert {CHAT, EMBED} <= listed
    shown = client.show(CHAT)
    assert shown.capabilities == ["completion"] and shown.details is not None
    assert {CHAT, EMBED} <= {m.model for m in client.ps().models}
    version = httpx.get(f"{server.base_url}/api/version").json()
    assert version["version"]


def test_refusals_and_errors_are_response_errors(client: ollama.Client, server: Server) -> None:
    with pytest.raises(ollama.ResponseError) as pulled:
        client.pull("llama3")
    assert pulled.value.status_code == 403 and "plinth models" in pulled.value.error
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert missing.value.status_code == 404
    anonymous = ollama.Client(host=server.base_url)
    with pytest.raises(ollama.ResponseError) as unauthenticated:
        anonymous.list()
    assert unauthenticated.value.status_code == 401


@pytest.mark.anyio
async def test_async_client(server: Server, key: str) -> None:
    client = ollama.AsyncClient(host=server.base_url, headers={"authorization": f"Bearer {key}"})
    reply = await client.chat(
        model=CHAT, messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 4}
    )
    assert reply.message.content
    parts = [
        part
        async for part in await client.chat(
            model=CHAT,
            messages=[{"role": "user", "content": "Hi"}],
            options={"num_predict": 4},
            stream=True,
        )
    ]
    assert parts[-1].done


@pytest.fixture(scope="module")
def tools_model(server: Server) -> Iterator[str]:
    with ToolCallingUpstream() as up:
        deployment = {"model": TOOLS_MODEL, "base_url": up.base_url, "upstream_model": "fake"}
        created = admin(server, "POST", "/admin/deployments", json=deployment)
        assert created.status_code == 201, created.text
        try:
            yield TOOLS_MODEL
        finally:
            admin(server, "DELETE", f"/admin/deployments/{created.json()['id']}")


def test_tool_calls(client: ollama.Client, tools_model: str) -> None:
    def get_weather(city: str, unit: str) -> str:
        """The weather in a city.

        Args:
            city: The city
            unit: celsius or fahrenheit
        """
        return "18"

    question = {"role": "user", "content": "Weather in Paris?"}
    reply = client.chat(model=tools_model, messages=[question], tools=[get_weather])
    (call,) = reply.message.tool_calls or []
    assert call.function.name == "get_weather" and dict(call.function.arguments) == ARGUMENTS
    answer = client.chat(
        model=tools_model,
        messages=[question, reply.message, {"role": "tool", "content": "18", "tool_name": "x"}],
        tools=[get_weather],
    )
    assert answer.message.content == "The tool said: 18"
