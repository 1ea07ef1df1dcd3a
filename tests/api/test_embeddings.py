"""POST /v1/embeddings on the bundled all-MiniLM-L6-v2: shapes, encodings and refusals."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from testsupport import CHAT_MODEL, EMBED_MODEL, assert_error

DIMS = 384


def embed(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/embeddings", json={"model": EMBED_MODEL, **body})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return dict(response.json())


def matrix(reply: dict[str, Any]) -> np.ndarray:
    data = reply["data"]
    assert [d["index"] for d in data] == list(range(len(data)))
    assert all(d["object"] == "embedding" for d in data)
    return np.array([d["embedding"] for d in data], dtype=np.float64)


def assert_refused(response: Any, param: str | None, code: str | None = None) -> dict[str, Any]:
    return assert_error(response, 400, "invalid_request_error", param=param, code=code)


def test_string_input(client: TestClient) -> None:
    reply = embed(client, input="A cat sits on the mat")
    assert sorted(reply) == ["data", "model", "object", "usage"]
    assert reply["object"] == "list" and reply["model"] == EMBED_MODEL
    vectors = matrix(reply)
    assert vectors.shape == (1, DIMS)
    assert all(isinstance(x, float) for x in reply["data"][0]["embedding"])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-3)
    usage = reply["usage"]
    assert sorted(usage) == ["prompt_tokens", "total_tokens"]
    assert usage["prompt_tokens"] == usage["total_tokens"] > 0


def test_list_input_keeps_order_and_sums_usage(client: TestClient) -> None:
    texts = ["A cat sits on the mat", "Stock markets fell sharply", "Good morning"]
    singles = [embed(client, input=text) for text in texts]
    batch = embed(client, input=texts)
    vectors = matrix(batch)
    assert vectors.shape == (3, DIMS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    for i, single in enumerate(singles):
        assert np.allclose(vectors[i], matrix(single)[0], atol=1e-5)
    assert batch["usage"]["prompt_tokens"] == sum(s["usage"]["prompt_tokens"] for s in singles)


def test_reversed_list_gives_reversed_vectors(client: TestClient) -> None:
    texts = ["first text", "second, longer text about something else", "third"]
    forward = matrix(embed(client, input=texts))
    backward = matrix(embed(client, input=texts[::-1]))
    assert np.allclose(forward, backward[::-1], atol=1e-5)


def test_base64_decodes_to_the_float_vector(client: TestClient) -> None:
    texts = ["Plinth encodes vectors as base64 float32", "a second one"]
    floats = matrix(embed(client, input=texts))
    encoded = embed(client, input=texts, encoding_format="base64")
    assert [d["index"] for d in encoded["data"]] == [0, 1]
    for i, item in enumerate(encoded["data"]):
        assert isinstance(item["embedding"], str)
        raw = base64.b64decode(item["embedding"], validate=True)
        assert len(raw) == DIMS * 4
        decoded = np.frombuffer(raw, dtype="<f4")
        assert np.allclose(decoded, floats[i], atol=1e-6)


def test_identical_texts_identical_vectors(client: TestClient) -> None:
    same = matrix(embed(client, input=["hello world", "hello world"]))
    again = matrix(embed(client, input="hello world"))
    assert np.allclose(same[0], same[1], atol=1e-6)
    assert np.allclose(same[0], again[0], atol=1e-6)


def test_close_meanings_are_closer(client: TestClient) -> None:
    cat, kitten, stocks = matrix(
        embed(
            client,
            input=["A cat sits on the mat", "A kitten is on the rug", "Stock markets fell sharply"],
        )
    )
    assert cat @ kitten > cat @ stocks + 0.2
    assert kitten @ cat > kitten @ stocks


def test_close_meanings_are_closer_in_chinese(client: TestClient) -> None:
    texts = ["今天天气很好", "今天的天气不错", "股票市场大幅下跌"]
    fine, nice, stocks = matrix(embed(client, input=texts))
    assert fine @ nice > fine @ stocks


def test_token_id_inputs(client: TestClient) -> None:
    one = embed(client, input=[101, 7592, 2088, 102], token_vocabulary="model")
    assert matrix(one).shape == (1, DIMS) and one["usage"]["prompt_tokens"] == 4
    two = embed(client, input=[[101, 7592, 102], [101, 2088, 2088, 102]], token_vocabulary="model")
    assert matrix(two).shape == (2, DIMS) and two["usage"]["prompt_tokens"] == 7


def test_dimensions_equal_to_the_model_is_accepted(client: TestClient) -> None:
    assert matrix(embed(client, input="x", dimensions=DIMS)).shape == (1, DIMS)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"input": "x", "dimensions": 128}, "dimensions", "unsupported_parameter"),
        ({"input": "x", "dimensions": 0}, "dimensions", None),
        ({"input": ""}, "input", None),
        ({"input": ["ok", ""]}, "input", None),
        ({"input": []}, "input", None),
        ({"input": [[]]}, "input", None),
        ({"input": 5}, "input", None),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format", None),
        ({"input": "x", "normalize": True}, "normalize", "unsupported_parameter"),
        ({"input": "word " * 600}, "input", "context_length_exceeded"),
    ],
)
def test_bad_requests_are_400(
    client: TestClient, body: dict[str, Any], param: str, code: str | None
) -> None:
    assert_refused(client.post("/v1/embeddings", json={"model": EMBED_MODEL, **body}), param, code)


def test_chat_model_cannot_embed(client: TestClient) -> None:
    error = assert_refused(
        client.post("/v1/embeddings", json={"model": CHAT_MODEL, "input": "x"}),
        "model",
        "model_not_supported",
    )
    assert f"'{CHAT_MODEL}'" in error["message"] and "embeddings" in error["message"]
