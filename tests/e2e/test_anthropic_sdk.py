"""The official ``anthropic`` SDK, unmodified, against a real ``plinth serve``.

Text comes from the bundled SmolLM2 (a local model, so the Messages request
is translated); tool use from a fake OpenAI-compatible upstream that calls
tools (real HTTP on loopback), added to the running server as a deployment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic import Anthropic, AsyncAnthropic
from e2e_support import Server

from toolupstream import ARGUMENTS, ToolCallingUpstream

pytestmark = pytest.mark.e2e

CHAT = "smollm2-135m-instruct"
TOOLS_MODEL = "e2e-anthropic-tools"
WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def admin(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {server.admin_key}"}
    return httpx.request(method, f"{server.base_url}{path}", headers=headers, **kwargs)


def new_key(server: Server, name: str, policy: str | None = None) -> str:
    body = {"name": name} | ({"privacy_policy": policy} if policy else {})
    response = admin(server, "POST", "/admin/keys", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def ledger_row(server: Server, request_id: str) -> dict[str, Any]:
    response = admin(server, "GET", f"/admin/usage/requests/{request_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return new_key(server, "e2e-anthropic")


@pytest.fixture(scope="module")
def sdk(server: Server, key: str) -> Anthropic:
    return Anthropic(base_url=server.base_url, api_key=key, max_retries=0)


@pytest.fixture(scope="module")
def tools_model(server: Server) -> Iterator[str]:
    """A chat model served by a tool-calling fake upstream, for this module's tests."""
    with ToolCallingUpstream() as up:
        deployment = {"model": TOOLS_MODEL, "base_url": up.base_url, "upstream_model": "fake"}
        created = admin(server, "POST", "/admin/deployments", json=deployment)
        assert created.status_code == 201, created.text
        try:
            yield TOOLS_MODEL
        finally:
            admin(server, "DELETE", f"/admin/deployments/{created.json()['id']}")


def test_sync_message_and_its_ledger_row(sdk: Anthropic, server: Server) -> None:
    raw = sdk.messages.with_raw_response.create(
        model=CHAT,
        max_tokens=8,
        system="You are terse.",
        messages=[{"role": "user", "content": "Say hello"}],
    )
    message = raw.parse()
    assert message.role == "assistant" and message.model == CHAT
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason in {"end_turn", "max_tokens"}
    assert 0 < message.usage.output_tokens <= 8 and message.usage.input_tokens > 0
    row = ledger_row(server, raw.headers["x-request-id"])
    assert row["endpoint"] == "messages" and row["status"] == "ok"
    assert row["completion_tokens"] == message.usage.output_tokens
    assert row["prompt_tokens"] == message.usage.input_tokens


def test_streaming_helper_accumulates_text_and_usage(sdk: Anthropic) -> None:
    with sdk.messages.stream(
        model=CHAT, max_tokens=12, messages=[{"role": "user", "content": "Count to five"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].type == "text" and final.content[0].text == text
    assert final.usage.input_tokens > 0 and 0 < final.usage.output_tokens <= 12
    assert final.stop_reason in {"end_turn", "max_tokens"}


@pytest.mark.anyio
async def test_async_client_concurrent_and_streaming(server: Server, key: str) -> None:
    client = AsyncAnthropic(base_url=server.base_url, api_key=key, max_retries=0)
    replies = await asyncio.gather(
        *(
            client.messages.create(
                model=CHAT, max_tokens=6, messages=[{"role": "user", "content": f"Number {i}"}]
            )
            for i in range(4)
        )
    )
    assert all(r.content and r.content[0].type == "text" for r in replies)
    kinds = []
    stream = await client.messages.create(
        model=CHAT, max_tokens=6, messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    async for event in stream:
        kinds.append(event.type)
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds and "message_delta" in kinds
    await client.close()


def test_tool_use_and_tool_result(sdk: Anthropic, tools_model: str) -> None:
    question: Any = {"role": "user", "content": "Weather in Paris?"}
    first = sdk.messages.create(
        model=tools_model,
        max_tokens=64,
        tools=[WEATHER],
        tool_choice={"type": "auto"},
        messages=[question],
    )
    assert first.stop_reason == "tool_use"
    call = first.content[0]
    assert call.type == "tool_use" and call.name == "get_weather" and call.input == ARGUMENTS
    answer = sdk.messages.create(
        model=tools_model,
        max_tokens=64,
        tools=[WEATHER],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C"}],
            },
        ],
    )
    assert answer.content[0].type == "text" and answer.content[0].text == "The tool said: 18C"


def test_streamed_tool_use_is_parsed_by_the_sdk(sdk: Anthropic, tools_model: str) -> None:
    with sdk.messages.stream(
        model=tools_model,
        max_tokens=64,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ) as stream:
        final = stream.get_final_message()
    (call,) = final.content
    assert call.type == "tool_use" and call.input == ARGUMENTS
    assert final.stop_reason == "tool_use" and final.usage.input_tokens == 11


def test_count_tokens(sdk: Anthropic) -> None:
    counted = sdk.messages.count_tokens(
        model=CHAT, messages=[{"role": "user", "content": "How long is this?"}]
    )
    assert counted.input_tokens > 0


def test_errors_are_the_sdk_exceptions(sdk: Anthropic, server: Server) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        sdk.messages.create(
            model="no-such", max_tokens=4, messages=[{"role": "user", "content": "x"}]
        )
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError):
        sdk.messages.create(
            model=CHAT,
            max_tokens=4,
            extra_body={"top_k": 3},
            messages=[{"role": "user", "content": "x"}],
        )
    bad_key = Anthropic(base_url=server.base_url, api_key="sk-wrong-000", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad_key.messages.create(
            model=CHAT, max_tokens=4, messages=[{"role": "user", "content": "x"}]
        )


def test_block_policy_refuses_through_the_sdk(server: Server) -> None:
    blocked = Anthropic(
        base_url=server.base_url, api_key=new_key(server, "e2e-blocked", "block"), max_retries=0
    )
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        blocked.messages.create(
            model=CHAT,
            max_tokens=4,
            messages=[{"role": "user", "content": "我的身份证号是11010519491231002X"}],
        )
    assert "CN_RESIDENT_ID" in str(refused.value) and "11010519491231002X" not in str(refused.value)
    request_id = refused.value.response.headers["x-request-id"]
    assert ledger_row(server, request_id)["status"] == "error"
