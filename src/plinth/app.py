"""``create_app(settings)``: the ASGI app, composed explicitly.

Nothing happens at import time. The lifespan opens the database, makes sure
an admin key exists, loads the models and starts the usage recorder; it
undoes all of that on shutdown, flushing the ledger last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from plinth import console
from plinth.api import (
    admin,
    billing,
    deployments,
    dify,
    files,
    generation,
    health,
    models,
    vector_store_batches,
    vector_stores,
)
from plinth.api import anthropic_messages, ollama
from plinth.api import responses as responses_api
from plinth.api.fastpath import FastPathApp
from plinth.api.http import error_response, new_request_id
from plinth.auth import Authenticator
from plinth.billing.storage import StorageMeter
from plinth.bootstrap import bootstrap_admin_key, build_billing, build_engines, privacy_guard
from plinth.engines.base import Engine
from plinth.engines.pool import EnginePool
from plinth.errors import (
    LIBRARY_ERRORS,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PlinthError,
    as_plinth_error,
)
from plinth.files.storage import LocalFileStorage
from plinth.gateway import Gateway
from plinth.metering.recorder import UsageRecorder
from plinth.metrics import Metrics
from plinth.routing.router import Router
from plinth.routing.sync import DeploymentSync
from plinth.services import Services
from plinth.settings import Settings
from plinth.store.audit import AuditStore
from plinth.store.database import open_database
from plinth.store.deployments import DeploymentStore
from plinth.store.door import Database
from plinth.store.files import FileStore
from plinth.store.keys import KeyStore
from plinth.store.models import ModelStore
from plinth.store.tenants import TenantStore
from plinth.store.usage import UsageStore
from plinth.vectorstores.build import build_vector_stores

log = logging.getLogger(__name__)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    mapped: PlinthError
    if exc.status_code == 404:
        mapped = NotFound(f"Unknown route: {request.method} {request.url.path}")
    elif exc.status_code == 405:
        mapped = MethodNotAllowed(f"Method {request.method} is not allowed on {request.url.path}")
    else:
        mapped = InvalidRequest(str(exc.detail))
    # Every /v1 error names a request id, as OpenAI's do.
    request_id = new_request_id() if request.url.path.startswith("/v1/") else None
    return error_response(mapped, request_id)


async def _plinth_error(request: Request, exc: Exception) -> Response:
    """The one handler for the exception tree: routes raise, this answers."""
    assert isinstance(exc, PlinthError)
    # A route that assigned a request id leaves it on request.state for the error to name.
    return error_response(exc, getattr(request.state, "request_id", None))


async def _library_error(request: Request, exc: Exception) -> Response:
    """A library exception that stands for a client mistake (see ``LIBRARY_ERRORS``)."""
    return error_response(exc, getattr(request.state, "request_id", None))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    if as_plinth_error(exc) is not None:  # a library error that is the client's mistake
        return error_response(exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(exc)


def create_app(settings: Settings, *, engines: list[Engine] | None = None) -> FastPathApp:
    """Build the app; ``engines`` replaces the catalog's models (tests use it)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = open_database(settings.resolved_database_url)
        database = Database(db)
        keys = KeyStore(db)
        bootstrap_admin_key(keys, settings)
        guard = privacy_guard(settings)
        pool = EnginePool(
            engines if engines is not None else build_engines(settings, ModelStore(db))
        )
        await pool.start()
        router = Router(settings.routing, pool)
        sync = DeploymentSync(router, settings.deployments, DeploymentStore(db), database)
        await sync.refresh(force=True)
        metrics, usage = Metrics(), UsageStore(db)
        billing = build_billing(settings, database)
        file_storage = LocalFileStorage(settings.data_dir / "files")
        storage_meter = StorageMeter(db)
        vector_stores = await build_vector_stores(
            settings, database, pool, file_storage, storage_meter
        )
        knowledge = vector_stores.knowledge
        recorder = UsageRecorder(usage, database)
        await recorder.start()
        background = [asyncio.create_task(sync.run(settings.routing.refresh_interval_s))]
        if settings.routing.health_interval_s > 0:
            background.append(asyncio.create_task(router.run_health_checks()))
        app.state.services = Services(
            settings=settings,
            db=database,
            keys=keys,
            tenants=TenantStore(db),
            usage=usage,
            recorder=recorder,
            metrics=metrics,
            engines=pool,
            router=router,
            deployments=sync,
            auth=Authenticator(keys, database),
            privacy=guard,
            audit=AuditStore(db),
            files=FileStore(db),
            file_storage=file_storage,
            knowledge=knowledge,
            storage_meter=storage_meter,
            vector_stores=vector_stores,
            billing=billing,
            gateway=Gateway(router, recorder, metrics, settings.routing, guard, billing),
        )
        await vector_stores.ingestor.start()
        app.state.started_at = int(time.time())
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await vector_stores.ingestor.close()
            await app.state.services.gateway.drain()
            await router.close()
            await pool.close()
            await billing.close()
            await recorder.close()
            vector_stores.close()
            file_storage.close()
            database.close()

    app = Starlette(
        routes=[
            *generation.routes,
            *responses_api.routes,
            *anthropic_messages.routes,
            *ollama.routes,
            *models.routes,
            *files.routes,
            *vector_stores.routes,
            *vector_store_batches.routes,
            *dify.routes,
            *admin.routes,
            *deployments.routes,
            *billing.routes,
            *health.routes,
            *console.routes,
        ],
        exception_handlers={
            HTTPException: _http_error,
            PlinthError: _plinth_error,
            # Handled by type, so Starlette answers them without re-raising to the
            # server (which would log a traceback and drop the keep-alive connection).
            **{kind: _library_error for kind, _ in LIBRARY_ERRORS},
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    return FastPathApp(app, generation.endpoints)
