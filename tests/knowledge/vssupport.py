"""An app with a fast fake embedder, for the vector-store and Dify API tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
from kbsupport import fake_embed
from starlette.testclient import TestClient

from plinth.app import create_app
from plinth.engines.base import EmbeddingResult, Engine
from plinth.settings import Settings

ADMIN = "sk-plinth-vs-admin-0123456789"
FAKE_MODEL = "fake-embed"


class FakeEmbedder(Engine):
    """Hashed bag-of-words vectors: instant, deterministic, similar texts close."""

    def __init__(self) -> None:
        super().__init__(FAKE_MODEL, "embedding")

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def embed(self, inputs: list[str] | list[list[int]]) -> EmbeddingResult:
        texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in inputs]
        return EmbeddingResult(await fake_embed(texts), sum(len(t) for t in texts))


def fake_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        admin_key=ADMIN,  # type: ignore[arg-type]
        knowledge={"embedding_model": FAKE_MODEL},  # type: ignore[arg-type]
        routing={"health_interval_s": 0},  # type: ignore[arg-type]
    )


@contextmanager
def fake_app(data_dir: Path) -> Iterator[TestClient]:
    app = create_app(fake_settings(data_dir), engines=[FakeEmbedder()])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def new_key(client: TestClient, name: str) -> str:
    response = client.post(
        "/admin/keys", json={"name": name}, headers={"authorization": f"Bearer {ADMIN}"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def sdk(client: TestClient, key: str) -> openai.OpenAI:
    # The real SDK over the in-process app (TestClient is an httpx.Client); the
    # app's lifespan, and so the ingestion workers, run for the client's life.
    return openai.OpenAI(
        api_key=key, base_url="http://testserver/v1", http_client=client, max_retries=0
    )
