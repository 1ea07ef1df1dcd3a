"""A live Plinth (uvicorn on a loopback port) in front of a fake upstream, for the SDK.

The server runs its own event loop on a thread; ``call`` runs a coroutine on
that loop, which is how tests fill the knowledge base (its objects belong to
the server's loop). No bundled models are loaded: stores search lexically.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai
import uvicorn
from sqlalchemy import update

from gatewaysupport import ADMIN, deployment
from plinth.app import create_app
from plinth.knowledge.chunking import AUTO
from plinth.services import Services
from plinth.settings import Settings
from plinth.store.files import FileRecord, utc_now
from plinth.store.schema import vector_stores as stores
from plinth.vectorstores.catalog import now_s
from upstreamfake import FakeUpstream

T = TypeVar("T")


class LiveServer:
    def __init__(self, data_dir: Path, upstream: FakeUpstream):
        settings = Settings(
            data_dir=data_dir,
            admin_key=ADMIN,  # type: ignore[arg-type]
            load_bundled_models=False,
            deployments=[deployment(upstream)],  # type: ignore[list-item]
            routing={"health_interval_s": 0},  # type: ignore[arg-type]
        )
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="plinth-live", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def __enter__(self) -> LiveServer:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                break
            self.thread.join(0.02)
        assert self.server.started, "the live server did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def sdk(self) -> openai.OpenAI:
        return openai.OpenAI(api_key=ADMIN, base_url=f"{self.base_url}/v1", max_retries=0)

    def admin_get(self, path: str) -> Any:
        response = httpx.get(self.base_url + path, headers={"authorization": f"Bearer {ADMIN}"})
        assert response.status_code == 200, response.text
        return response.json()

    def create_store(
        self, store_id: str, *, key_id: str | None = None, expires_after_days: int | None = None
    ) -> None:
        """A vector store with a readable id, owned by ``key_id`` (None: admin-only)."""
        vs = self.services.vector_stores
        assert vs is not None
        row = vs.catalog.create_store(
            key_id=key_id,
            tenant_id=None,
            name=store_id,
            metadata={},
            expires_after_days=expires_after_days,
            now=now_s(),
        )
        # The catalog draws random ids; the tests name their stores.
        with vs.catalog.engine.begin() as conn:
            conn.execute(update(stores).where(stores.c.id == row.id).values(id=store_id))
        vs.index.create_store(store_id, vs.retrieval.dims)

    def add_document(
        self,
        store_id: str,
        file_id: str,
        filename: str,
        text: str,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Register a file in the Files table and the store, and index it into ``store_id``."""
        data = text.encode()
        catalog = self.services.vector_stores.catalog  # type: ignore[union-attr]
        self.services.files.add(
            FileRecord(
                id=file_id,
                key_id=None,
                filename=filename,
                purpose="assistants",
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                created_at=utc_now(),
                expires_at=None,
            )
        )
        catalog.add_file(
            store_id,
            file_id,
            filename=filename,
            chunking={},
            attributes=attributes or {},
            batch_id=None,
            now=now_s(),
        )
        ingestion = self.services.vector_stores.ingestion  # type: ignore[union-attr]
        self.call(ingestion.index_text(store_id, file_id, text, AUTO, attributes or {}))
        assert catalog.finish_file(store_id, file_id, status="completed", usage_bytes=len(data))
