"""Start uvicorn with Plinth's connection limits (what ``plinth serve`` runs).

Once the app has started (bundled models loaded), :func:`settle_gc` freezes
what start-up built and makes the young generation's collections rarer. On
the proxy path at 16 requests in flight, the cyclic garbage collector cost
about 55 µs of CPU per request (``benchmarks/gateway_overhead.py``, measured
with ``gc.callbacks``): a full collection walked the ~120,000 objects that
start-up leaves (models' tables, pydantic schemas, the privacy detectors'
word lists), ~55 ms each, every few seconds, a latency spike for every
request in flight; and a young collection ran every ~25 requests, mostly
re-walking the ledger rows that wait for their group commit. Frozen objects
are never walked again (and, if they become cyclic garbage, never freed:
start-up builds them once); the young generation's threshold at 10,000
allocations (from 700) lets a request's objects die by reference count
before any collection sees them.
"""

from __future__ import annotations

import gc
import logging
import resource
import socket
import sys
from typing import Any

import uvicorn

from plinth.server.guard import ConnectionGuard
from plinth.server.limits import ServerLimits
from plinth.server.protocol import guarded_protocol

log = logging.getLogger(__name__)

#: File descriptors kept out of the connection cap: database, models, logs, files.
_RESERVED_FDS = 64


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def fit_to_file_limit(limits: ServerLimits, open_files: int) -> ServerLimits:
    """Each client connection may need a second socket (to an upstream): cap at half."""
    fitting = max(16, (open_files - _RESERVED_FDS) // 2)
    if limits.max_connections <= fitting:
        return limits
    log.warning(
        "server.max_connections lowered from %d to %d to fit the open-file limit (%d)",
        limits.max_connections,
        fitting,
        open_files,
    )
    return limits.model_copy(update={"max_connections": fitting})


def uvicorn_options(limits: ServerLimits) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` that apply ``limits``."""
    guard = ConnectionGuard(fit_to_file_limit(limits, raise_open_file_limit()))
    return {
        "http": guarded_protocol(guard),
        "timeout_keep_alive": limits.keep_alive_timeout_s,
        # The guard refuses beyond its caps in OpenAI's shape; uvicorn's own
        # limit_concurrency would answer a plain-text 503 instead.
        "limit_concurrency": None,
        # No route speaks WebSocket. With uvicorn's default ("auto", and the
        # websockets package installed by a dependency) an upgrade request moved
        # the socket to uvicorn's WebSocket protocol, out of the guard's sight:
        # its slot was never released, so ~1,000 upgrade attempts (each answered
        # 403 and closed) locked every client out with 503s. Refused, an upgrade
        # request is an ordinary HTTP request.
        "ws": "none",
    }


#: Net allocations of tracked objects between young-generation collections (CPython: 700).
GC_YOUNG_THRESHOLD = 10_000


def settle_gc() -> None:
    """Collect start-up's garbage, freeze the rest out of every later collection, and
    make young collections rarer (see the module's docstring)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


class _Server(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            settle_gc()


def serve(app: Any, **options: Any) -> None:
    """``uvicorn.run(app, **options)`` (one process, no reload), with :func:`settle_gc`
    once the app has started."""
    server = _Server(uvicorn.Config(app, **options))
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
