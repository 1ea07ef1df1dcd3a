"""``create_app(settings)``: the ASGI app, composed explicitly.

Nothing happens at import time. The lifespan opens the database, makes sure
an admin key exists, starts the usage recorder, loads the models and starts
the background work. Every step registers its teardown on one
``AsyncExitStack`` right after it acquires something, so shutdown, or a
start-up that fails half-way, closes exactly what was opened, in reverse
order, flushing the ledger last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from plinth import console
from plinth.api import (
    admin,
    anthropic_messages,
    batches,
    billing,
    deployments,
    dify,
    docs,
    files,
    generation,
    health,
    models,
    ollama,
    passthrough,
    vector_store_batches,
    vector_store_reembed,
    vector_stores,
)
from plinth.api import responses as responses_api
from plinth.api.dialect_errors import dialect_render
from plinth.api.fastpath import FastPathApp
from plinth.api.http import error_response, new_request_id
from plinth.auth import Authenticator
from plinth.batches.runner import start_batches
from plinth.billing.storage import StorageMeter
from plinth.bootstrap import bootstrap_admin_key, build_billing, build_engines, privacy_guard
from plinth.cache.service import build_response_cache
from plinth.engines.base import Engine
from plinth.engines.pool import EnginePool
from plinth.errors import (
    LIBRARY_ERRORS,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PlinthError,
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
from plinth.vectorstores.ingest import Ingestor
from plinth.vectorstores.service import VectorStores

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
    render = dialect_render(request.url.path)  # Anthropic's and Ollama's clients
    if render is not None:
        return render(mapped, _request_id(request) or new_request_id())
    return error_response(mapped, _request_id(request))


def _request_id(request: Request) -> str | None:
    """The id an error names: the route's own if it assigned one (on
    ``request.state``), else a new one on /v1, as every OpenAI error has."""
    assigned: str | None = getattr(request.state, "request_id", None)
    if assigned is None and request.url.path.startswith("/v1/"):
        return new_request_id()
    return assigned


async def _plinth_error(request: Request, exc: Exception) -> Response:
    """The one handler for the exception tree: routes raise, this answers."""
    assert isinstance(exc, PlinthError)
    return error_response(exc, _request_id(request))


async def _library_error(request: Request, exc: Exception) -> Response:
    """A library exception that stands for a client mistake (see ``LIBRARY_ERRORS``)."""
    return error_response(exc, _request_id(request))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    """A real fault: logged whole; the client gets a 500 naming only the request id."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(exc, _request_id(request))


async def _open_database(settings: Settings, stack: AsyncExitStack) -> Database:
    database = Database(open_database(settings.resolved_database_url))
    stack.callback(database.close)
    return database


async def _open_recorder(
    usage: UsageStore, database: Database, journal: Path, stack: AsyncExitStack
) -> UsageRecorder:
    # Opened early so that it closes late: the ledger is flushed after
    # everything that writes to it has stopped. Its start replays the rows a
    # killed process left in the journal.
    recorder = UsageRecorder(usage, database, journal=journal)
    await recorder.start()
    stack.push_async_callback(recorder.close)
    return recorder


async def _open_routing(
    settings: Settings, database: Database, engines: list[Engine] | None, stack: AsyncExitStack
) -> tuple[EnginePool, Router, DeploymentSync]:
    db = database.engine
    pool = EnginePool(engines if engines is not None else build_engines(settings, ModelStore(db)))
    # Registered before start: the engines that did load are closed if another fails.
    stack.push_async_callback(pool.close)
    await pool.start()
    router = Router(settings.routing, pool)
    stack.push_async_callback(router.close)
    sync = DeploymentSync(router, settings.deployments, DeploymentStore(db), database)
    await sync.refresh(force=True)
    return pool, router, sync


async def _open_vector_stores(
    settings: Settings, database: Database, pool: EnginePool, stack: AsyncExitStack
) -> tuple[VectorStores, LocalFileStorage, StorageMeter]:
    files, meter = LocalFileStorage(settings.data_dir / "files"), StorageMeter(database.engine)
    stack.callback(files.close)  # its upload-writing threads
    stores = await build_vector_stores(settings, database, pool, files, meter)
    stack.callback(stores.close)
    stack.push_async_callback(stores.reembeds.close)  # before stores.close: runs use the index
    return stores, files, meter


async def _start_background(svc: Services, ingestor: Ingestor, stack: AsyncExitStack) -> None:
    """The ingestion workers and the routing loops, stopped first on shutdown."""
    # Registered before start: a start that fails half-way still stops its workers.
    stack.push_async_callback(ingestor.close)
    await ingestor.start()
    tasks: list[asyncio.Task[None]] = []

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    stack.push_async_callback(stop)
    tasks.append(asyncio.create_task(svc.deployments.run(svc.settings.routing.refresh_interval_s)))
    if svc.settings.routing.health_interval_s > 0:
        tasks.append(asyncio.create_task(svc.router.run_health_checks()))


async def open_services(
    settings: Settings, engines: list[Engine] | None, stack: AsyncExitStack
) -> Services:
    """Acquire everything one app holds, and start its background work.

    Each resource puts its teardown on ``stack`` as soon as it is acquired, so
    a failure at any step closes what the steps before it opened, in reverse
    order, and a clean shutdown does the same.
    """
    database = await _open_database(settings, stack)
    db = database.engine
    keys = KeyStore(db)
    bootstrap_admin_key(keys, settings)
    usage = UsageStore(db)
    recorder = await _open_recorder(usage, database, settings.data_dir / "ledger-journal", stack)
    guard = privacy_guard(settings)
    pool, router, sync = await _open_routing(settings, database, engines, stack)
    billing = build_billing(settings, database)
    stack.push_async_callback(billing.close)
    vector_stores, file_storage, storage_meter = await _open_vector_stores(
        settings, database, pool, stack
    )
    metrics = Metrics()
    recorder.dead_letters.on_dead_letter = metrics.ledger_dead_letters.inc
    gateway = Gateway(router, recorder, metrics, guard, billing)
    stack.push_async_callback(gateway.drain)
    gateway.cache = build_response_cache(
        settings.response_cache, settings.redis_url, billing.prices, database
    )
    stack.push_async_callback(gateway.cache.close)
    svc = Services(
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
        storage_meter=storage_meter,
        vector_stores=vector_stores,
        billing=billing,
        gateway=gateway,
        started_at=int(time.time()),
    )
    await _start_background(svc, vector_stores.ingestor, stack)
    return svc


def create_app(settings: Settings, *, engines: list[Engine] | None = None) -> FastPathApp:
    """Build the app; ``engines`` replaces the catalog's models (tests use it)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.services = await open_services(settings, engines, stack)
            app.state.batches = await start_batches(app.state.services, stack)
            yield

    app = Starlette(
        routes=[
            *generation.routes,
            *responses_api.routes,
            *anthropic_messages.routes,
            *ollama.routes,
            *models.routes,
            *passthrough.routes,
            *files.routes,
            *batches.routes,
            *vector_stores.routes,
            *vector_store_batches.routes,
            *vector_store_reembed.routes,
            *dify.routes,
            *admin.routes,
            *deployments.routes,
            *billing.routes,
            *health.routes,
            *console.routes,
            *docs.routes,
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
