"""The JSON edge: bodies and schemas a client can send that must be 400s, not 500s."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plinth.api.http import MAX_JSON_DEPTH, error_response, load_json, parse_json, peek_model
from plinth.errors import InvalidRequest
from plinth.protocol.anthropic import MessagesRequest
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.common import MAX_TOKENS_LIMIT
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import EmbeddingRequest
from plinth.protocol.json_schema import MAX_SCHEMA_DEPTH, check_schema


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_nesting_at_the_limit_is_read() -> None:
    assert load_json(nested(MAX_JSON_DEPTH))["a"]["a"]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 999, 10_000, 1_000_000])
def test_deeper_nesting_is_refused(depth: int) -> None:
    with pytest.raises(InvalidRequest, match="nested more than"):
        load_json(nested(depth))


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    body = json.dumps({"text": "[" * 10_000 + "{" * 10_000}).encode()
    assert len(load_json(body)["text"]) == 20_000


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"temperature": NaN}', "not a JSON number"),
        (b'{"temperature": -Infinity}', "not a JSON number"),
        (b'{"temperature": 1e999}', "out of range"),
        (b'{"seed": ' + b"9" * 5000 + b"}", "out of range"),
        (b'{"model": "\xff\xfe"}', "not valid JSON"),
        (b'{"model": "\xed\xa0\x80"}', "not valid JSON"),  # a surrogate, UTF-8-encoded
        (b"\xef\xbb\xbf{}", "not valid JSON"),  # a byte-order mark
        (b'{"model": "a\x00b"}', "not valid JSON"),
        (b'{"model": "a\\u0000b"}', "NUL"),
        (b'{"a\\u0000": 1}', "NUL"),
        (b'{"model": "\\ud800"}', "surrogates"),
        (b'{"model": ["x", {"y": "\\uDFFF"}]}', "surrogates"),
    ],
)
def test_values_no_consumer_can_use_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        load_json(raw)


def test_paired_surrogates_and_ordinary_escapes_pass() -> None:
    assert load_json(b'{"e": "\\ud83d\\ude00", "u": "\\u00e9\\u4e2d"}') == {
        "e": "\U0001f600",
        "u": "\u00e9\u4e2d",
    }


CHAT: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("model", "body", "param"),
    [
        (ChatCompletionRequest, {**CHAT, "max_tokens": 2**63}, "max_tokens"),
        (ChatCompletionRequest, {**CHAT, "max_tokens": 2**64}, "max_tokens"),
        (ChatCompletionRequest, {**CHAT, "max_completion_tokens": 2**31}, "max_completion_tokens"),
        (ChatCompletionRequest, {**CHAT, "seed": 2**64}, "seed"),
        (ChatCompletionRequest, {**CHAT, "seed": -(2**63) - 1}, "seed"),
        (ChatCompletionRequest, {**CHAT, "n": 10**30}, "n"),
        (ChatCompletionRequest, {**CHAT, "top_logprobs": 2**64}, "top_logprobs"),
        (ChatCompletionRequest, {**CHAT, "temperature": 1e308}, "temperature"),
        (ChatCompletionRequest, {**CHAT, "logit_bias": {"1": 1e308}}, "logit_bias.1"),
        (CompletionRequest, {"model": "m", "prompt": "x", "max_tokens": 2**64}, "max_tokens"),
        (CompletionRequest, {"model": "m", "prompt": "x", "best_of": 2**64}, "best_of"),
        (EmbeddingRequest, {"model": "m", "input": "x", "dimensions": 2**64}, "dimensions"),
        (MessagesRequest, {**CHAT, "max_tokens": 2**63}, "max_tokens"),
        (MessagesRequest, {**CHAT, "max_tokens": 5, "top_k": 2**64}, "top_k"),
    ],
)
def test_numbers_outside_their_range_are_400_naming_the_param(
    model: type[Any], body: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json(json.dumps(body).encode(), model)
    assert caught.value.param == param


def test_the_largest_token_limit_and_seed_are_accepted() -> None:
    body = {**CHAT, "max_tokens": MAX_TOKENS_LIMIT, "seed": 2**63 - 1}
    request = parse_json(json.dumps(body).encode(), ChatCompletionRequest)
    assert request.engine_body()["max_tokens"] == MAX_TOKENS_LIMIT


def schema_request(schema: dict[str, Any]) -> bytes:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    return json.dumps({**CHAT, "response_format": fmt}).encode()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "#"}, "refers to itself"),
        ({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "refers to itself"),
        (
            {
                "$defs": {
                    "a": {"type": "object", "properties": {"b": {"$ref": "#/$defs/b"}}},
                    "b": {"type": "array", "items": {"$ref": "#/$defs/a"}},
                },
                "$ref": "#/$defs/a",
            },
            "refers to itself",
        ),
        ({"$ref": "#/$defs/missing"}, "does not resolve"),
        ({"$ref": "https://example.com/schema.json"}, "Only local"),
        ({"$ref": 5}, "Only local"),
    ],
)
def test_self_referencing_and_unresolvable_schemas_are_400(
    schema: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        parse_json(schema_request(schema), ChatCompletionRequest)
    assert caught.value.param == "response_format.json_schema.schema"


def test_deep_and_large_schemas_are_400() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_SCHEMA_DEPTH):
        deep = {"type": "array", "items": deep}
    with pytest.raises(InvalidRequest, match="nested more than"):
        check_schema(deep, "p")
    wide = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(129)}}
    with pytest.raises(InvalidRequest, match="more than 128 properties in one object"):
        check_schema(wide, "p")
    many = {
        "type": "object",
        "properties": {
            f"o{j}": {"type": "object", "properties": {f"p{i}": {} for i in range(100)}}
            for j in range(11)
        },
    }
    with pytest.raises(InvalidRequest, match="more than 1024 properties in all"):
        check_schema(many, "p")
    with pytest.raises(InvalidRequest, match="more than 128 values in one enum"):
        check_schema({"enum": list(range(129))}, "p")
    alternatives = {"anyOf": [{"enum": list(range(100))} for _ in range(6)]}
    with pytest.raises(InvalidRequest, match="more than 512 enum/anyOf/oneOf values in all"):
        check_schema(alternatives, "p")
    nodes = {"allOf": [{"type": "string"} for _ in range(6000)]}
    with pytest.raises(InvalidRequest, match="more than 5000"):
        check_schema(nodes, "p")


def test_shared_non_recursive_definitions_are_accepted() -> None:
    schema = {
        "$defs": {
            "name": {"type": "string"},
            "person": {"properties": {"n": {"$ref": "#/$defs/name"}}},
        },
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/person"}, "b": {"$ref": "#/$defs/person"}},
    }
    request = parse_json(schema_request(schema), ChatCompletionRequest)
    assert request.response_format is not None


def test_a_recursive_tool_schema_is_400_naming_the_tool() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"$ref": "#"}}}
    with pytest.raises(InvalidRequest) as caught:
        parse_json(json.dumps({**CHAT, "tools": [tool]}).encode(), ChatCompletionRequest)
    assert caught.value.param == "tools[0].function.parameters"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "\\u0000"}',
        b'{"model": "\\ud800"}',
        b'{"model": "\xed\xa0\x80"}',
        b'{"model": "' + b"m" * 201 + b'"}',
        b'{"model": 5}',
        b"[" * 5000,
    ],
)
def test_a_model_name_that_cannot_be_booked_is_not_peeked(raw: bytes) -> None:
    assert peek_model(raw) is None


def test_a_plain_model_name_is_peeked_even_from_a_rejected_body() -> None:
    assert peek_model(b'{"model": "m", "max_tokens": 18446744073709551616}') == "m"


def test_a_real_fault_says_connection_close_a_client_mistake_does_not() -> None:
    fault = error_response(RuntimeError("boom"), "req_1")
    mistake = error_response(InvalidRequest("bad"), "req_2")
    assert (fault.status_code, fault.headers["connection"]) == (500, "close")
    assert mistake.status_code == 400 and "connection" not in mistake.headers
