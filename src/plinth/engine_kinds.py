"""Engine kinds: the names a deployment's ``engine`` may take.

A kind is an entry point in the ``plinth.engines`` group, so a third-party
package registers one exactly as Plinth's own engines do (see
``pyproject.toml``). This module sits below both ``engines/`` and ``routing/``:
it knows kinds by name and loads a kind's factory on demand, without importing
any engine itself.

A factory may declare ``is_local = True``: its engines run in this process on
models of the local catalog (built at start-up into the engine pool) rather
than calling a remote upstream through a ``Deployment``.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

GROUP = "plinth.engines"
# The kind that serves the local catalog's models (each under its own name).
CATALOG_ENGINE = "llamacpp"


@cache
def _installed() -> dict[str, EntryPoint]:
    # Cached: scanning every distribution's metadata costs milliseconds, and
    # deployments are validated on every refresh of the routing table.
    return {entry.name: entry for entry in entry_points(group=GROUP)}


def installed_kinds() -> list[str]:
    return sorted(_installed())


def forget_installed() -> None:
    """Re-read the entry points on next use (after installing a plugin in-process)."""
    _installed.cache_clear()
    load_factory.cache_clear()


@cache
def load_factory(kind: str) -> Any:
    """The callable registered for ``kind``; LookupError if none is installed."""
    entry = _installed().get(kind)
    if entry is None:
        known = ", ".join(installed_kinds())
        raise LookupError(f"No engine kind '{kind}' is installed (known: {known})")
    return entry.load()


def is_local_kind(kind: str) -> bool:
    """Whether engines of ``kind`` run in-process on local catalog models."""
    return bool(getattr(load_factory(kind), "is_local", False))
