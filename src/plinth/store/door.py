"""The one async door to the database, as datasette's ``execute_fn`` is.

Every database call made on behalf of a request goes through
:meth:`Database.run`: the blocking SQLAlchemy work runs on this door's own
small thread pool, never on the event loop, so a slow commit or a writer
waiting on SQLite's busy timeout (a CLI command holding the lock) stalls one
database thread, not every request. Callers ``await`` it; they never call
``asyncio.to_thread`` themselves.

The stores (``KeyStore``, ``TenantStore``, ``PlanStore`` …) stay plain
synchronous classes over the engine: the CLI calls them directly, and async
code passes their methods through the door,
``await svc.db.run(svc.tenants.get, ref)``. Long-lived async services
(``Authenticator``, ``Billing``, ``UsageRecorder``, ``DeploymentSync``) hold
the same ``Database`` and do the same inside. File bytes are not database
work: uploads have their own pool (:mod:`plinth.files.storage`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine

P = ParamSpec("P")
T = TypeVar("T")

#: Enough threads that reads proceed while a write waits for SQLite's lock,
#: few enough that PostgreSQL's connection pool (5 + 10 overflow) is not exhausted.
DEFAULT_THREADS = 4


class Database:
    """An SQLAlchemy engine and the thread pool that all blocking access runs on."""

    def __init__(self, engine: Engine, *, threads: int = DEFAULT_THREADS):
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="plinth-db")

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the blocking ``fn(*args, **kwargs)`` on the database threads and await it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Wait for the calls in flight, then release the threads and the engine's pool."""
        self._pool.shutdown(wait=True)
        self.engine.dispose()
