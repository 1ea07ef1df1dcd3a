"""Start uvicorn with Plinth's connection limits (what ``plinth serve`` runs)."""

from __future__ import annotations

import logging
import resource
from typing import Any

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
    }
