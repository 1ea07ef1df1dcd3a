"""POST /v1/embeddings on the bundled MiniLM."""

from __future__ import annotations

import base64

import numpy as np
from starlette.testclient import TestClient

EMBED = "all-minilm-l6-v2"


def embed(client: TestClient, **body: object) -> dict[str, object]:
    response = client.post("/v1/embeddings", json={"model": EMBED, **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


def vectors(reply: dict[str, object]) -> np.ndarray:
    data = reply["data"]
    assert isinstance(data, list)
    assert [d["index"] for d in data] == list(range(len(data)))
    return np.array([d["embedding"] for d in data])


def test_string_and_list_inputs(client: TestClient) -> None:
    single = embed(client, input="A cat sits on the mat")
    assert single["object"] == "list" and single["model"] == EMBED
    one = vectors(single)
    assert one.shape == (1, 384)
    assert abs(np.linalg.norm(one[0]) - 1) < 1e-3
    texts = ["A cat sits on the mat", "A kitten is on the rug", "Stock markets fell sharply"]
    many = vectors(embed(client, input=texts))
    assert np.allclose(many[0], one[0], atol=1e-5)
    assert many[0] @ many[1] > many[0] @ many[2] + 0.2
    usage = embed(client, input=texts)["usage"]
    assert isinstance(usage, dict) and usage["prompt_tokens"] == usage["total_tokens"] > 0


def test_chinese_similarity(client: TestClient) -> None:
    texts = ["今天天气很好", "今天的天气不错", "股票市场大幅下跌"]
    v = vectors(embed(client, input=texts))
    assert v[0] @ v[1] > v[0] @ v[2]


def test_base64_matches_float(client: TestClient) -> None:
    text = "Plinth encodes vectors as base64 float32"
    floats = vectors(embed(client, input=text))[0]
    encoded = embed(client, input=text, encoding_format="base64")["data"]
    assert isinstance(encoded, list)
    decoded = np.frombuffer(base64.b64decode(encoded[0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, floats, atol=1e-6)


def test_bad_inputs(client: TestClient) -> None:
    cases = [
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": "x", "dimensions": 128}, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "word " * 600}, "input"),
    ]
    for body, param in cases:
        response = client.post("/v1/embeddings", json={"model": EMBED, **body})
        assert response.status_code == 400, body
        assert response.json()["error"]["param"] == param
    assert embed(client, input="x", dimensions=384)["data"]
    chat_model = client.post(
        "/v1/embeddings", json={"model": "smollm2-135m-instruct", "input": "x"}
    )
    assert chat_model.status_code == 400
    assert chat_model.json()["error"]["code"] == "model_not_supported"
