"""Engine kinds, found through the ``plinth.engines`` entry-point group.

Plinth's own engines register exactly as a third-party package would, in its
``pyproject.toml``; the registry only maps a kind name to a factory. The names
themselves (and whether a kind is local) live in :mod:`plinth.engine_kinds`,
below this package, so a deployment can be validated without importing engines.
"""

from __future__ import annotations

from collections.abc import Callable

from plinth.engine_kinds import load_factory
from plinth.engines.base import Engine

EngineFactory = Callable[..., Engine]


def engine_factory(kind: str) -> EngineFactory:
    """The factory registered for ``kind``; LookupError if none is installed."""
    factory: EngineFactory = load_factory(kind)
    return factory
