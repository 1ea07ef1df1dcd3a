"""Embeddings as common clients send them: never silently wrong.

LangChain's ``OpenAIEmbeddings()`` tokenizes with tiktoken and sends the ids;
the bundled model would read them as its own vocabulary and embed other text,
so Plinth refuses token ids on a local model with a 400 that names the client
setting to change, and with that setting the vectors equal the plain text's.

tiktoken downloads its vocabulary on first use; the tests give it a byte-level
vocabulary instead (the same code path in LangChain, ids that are as foreign to
the bundled model as cl100k's).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import openai
import pytest
import tiktoken
from langchain_openai import OpenAIEmbeddings
from starlette.testclient import TestClient

from testsupport import EMBED_MODEL

TEXT = "Plinth serves the bundled models behind an OpenAI-compatible API."


@pytest.fixture
def byte_vocabulary(monkeypatch: pytest.MonkeyPatch) -> Iterator[tiktoken.Encoding]:
    encoding = tiktoken.Encoding(
        name="bytes",
        pat_str=r"\S+|\s+",
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )
    monkeypatch.setattr(tiktoken, "encoding_for_model", lambda _model: encoding)
    monkeypatch.setattr(tiktoken, "get_encoding", lambda _name: encoding)
    yield encoding


def _langchain(client: TestClient, user_key: str, **settings: Any) -> OpenAIEmbeddings:
    return OpenAIEmbeddings(
        model=EMBED_MODEL,
        base_url=f"{client.base_url}/v1",
        api_key=user_key,  # type: ignore[arg-type]
        http_client=client,
        max_retries=0,
        **settings,
    )


def _plain(client: TestClient, text: str) -> np.ndarray:
    response = client.post("/v1/embeddings", json={"model": EMBED_MODEL, "input": text})
    assert response.status_code == 200, response.text
    return np.array(response.json()["data"][0]["embedding"])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.usefixtures("byte_vocabulary")
def test_langchain_defaults_get_a_400_naming_the_setting(client: TestClient, user_key: str) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        _langchain(client, user_key).embed_query(TEXT)
    error = raised.value.body
    assert isinstance(error, dict)
    assert error["code"] == "token_ids_vocabulary" and error["param"] == "input"
    assert "check_embedding_ctx_length=False" in error["message"]


@pytest.mark.usefixtures("byte_vocabulary")
def test_langchain_with_the_named_setting_embeds_the_text(
    client: TestClient, user_key: str
) -> None:
    embeddings = _langchain(client, user_key, check_embedding_ctx_length=False)
    query = np.array(embeddings.embed_query(TEXT))
    documents = [np.array(v) for v in embeddings.embed_documents([TEXT, "Stock markets fell"])]
    assert _cosine(query, _plain(client, TEXT)) >= 0.999
    assert _cosine(documents[0], _plain(client, TEXT)) >= 0.999
    assert _cosine(documents[1], _plain(client, "Stock markets fell")) >= 0.999


def test_foreign_token_ids_are_refused_not_embedded(client: TestClient) -> None:
    """What LangChain sends, as the OpenAI SDK passes it: a list of id lists."""
    ids = list(TEXT.encode())
    for body in ({"input": ids}, {"input": [ids, ids[:10]]}):
        response = client.post("/v1/embeddings", json={"model": EMBED_MODEL, **body})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "token_ids_vocabulary"


def test_own_vocabulary_ids_opt_in(client: TestClient) -> None:
    """Ids from the model's own tokenizer, declared so, embed like the text they encode."""
    body = {"model": EMBED_MODEL, "input": [[101, 7592, 2088, 102]], "token_vocabulary": "model"}
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 200, response.text
    vector = np.array(response.json()["data"][0]["embedding"])
    assert _cosine(vector, _plain(client, "hello world")) >= 0.999  # BERT ids of the text


def test_an_unknown_vocabulary_is_a_400(client: TestClient) -> None:
    body = {"model": EMBED_MODEL, "input": [[1, 2]], "token_vocabulary": "cl100k_base"}
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"]
