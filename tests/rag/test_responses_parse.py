"""``text.format`` on /v1/responses: JSON and JSON-schema output as chat's
``response_format``, driven by the OpenAI SDK's ``responses.parse`` / ``stream``
in process against the bundled chat model (grammar-constrained decoding)."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from openai import OpenAI
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from plinth.api.responses_objects import Turn
from plinth.protocol.responses import ResponsesRequest
from testsupport import CHAT_MODEL, assert_error


class Verdict(BaseModel):
    answer: Literal["yes", "no"]
    certain: bool
    reason: str = Field(max_length=40)


def _sdk(client: TestClient, key: str) -> OpenAI:
    return OpenAI(base_url=f"{client.base_url}/v1", api_key=key, http_client=client, max_retries=0)


def test_responses_parse_returns_the_pydantic_object(client: TestClient, user_key: str) -> None:
    parsed = _sdk(client, user_key).responses.parse(
        model=CHAT_MODEL,
        input="Is Paris the capital of France?",
        text_format=Verdict,
        max_output_tokens=120,
        temperature=0,
    )
    assert parsed.status == "completed"
    assert isinstance(parsed.output_parsed, Verdict)
    assert parsed.text.format is not None and parsed.text.format.type == "json_schema"
    assert Verdict.model_validate_json(parsed.output_text) == parsed.output_parsed


def test_streamed_parse_ends_with_the_object(client: TestClient, user_key: str) -> None:
    with _sdk(client, user_key).responses.stream(
        model=CHAT_MODEL,
        input="Is the sea salty?",
        text_format=Verdict,
        max_output_tokens=120,
        temperature=0,
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas and "".join(deltas) == final.output_text
    assert isinstance(final.output_parsed, Verdict)


def test_json_object_format_gives_json(client: TestClient) -> None:
    body = {
        "model": CHAT_MODEL,
        "input": "Reply with a JSON object with a key 'colour' for the colour of the sky.",
        "text": {"format": {"type": "json_object"}},
        "max_output_tokens": 60,
        "temperature": 0,
    }
    response = client.post("/v1/responses", json=body)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["text"]["format"] == {"type": "json_object"}
    if reply["status"] == "completed":
        assert isinstance(json.loads(reply["output"][0]["content"][0]["text"]), dict)


@pytest.mark.parametrize(
    ("fmt", "param"),
    [
        ({"type": "json_schema", "schema": {"type": "object"}}, "text.format.name"),
        ({"type": "json_schema", "name": "x"}, "text.format.schema"),
        ({"type": "text", "schema": {"type": "object"}}, "text.format.schema"),
        ({"type": "json_object", "name": "x"}, "text.format.name"),
    ],
)
def test_malformed_formats_are_400s_naming_the_field(
    client: TestClient, fmt: dict[str, Any], param: str
) -> None:
    body = {"model": CHAT_MODEL, "input": "hi", "text": {"format": fmt}}
    response = client.post("/v1/responses", json=body)
    assert_error(response, 400, "invalid_request_error", param=param)


def test_text_format_becomes_chats_response_format() -> None:
    """And a structured format turns citation parsing off: in JSON a "[1]" is data."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    structured = ResponsesRequest.model_validate(
        {
            "model": "m",
            "input": "x",
            "text": {"format": {"type": "json_schema", "name": "n", "schema": schema}},
        }
    )
    plain = ResponsesRequest.model_validate({"model": "m", "input": "x"})
    assert structured.text_format.response_format() == {
        "type": "json_schema",
        "json_schema": {"name": "n", "schema": schema},
    }
    assert plain.text_format.response_format() is None
    assert structured.text_format.structured and not plain.text_format.structured
    assert Turn(structured, "req_1", None).citable == []
