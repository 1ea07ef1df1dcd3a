"""Engine kinds, found through the ``plinth.engines`` entry-point group.

Plinth's own engines register exactly as a third-party package would, in its
``pyproject.toml``; the registry only maps a kind name to a factory.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from plinth.engines.base import Engine

EngineFactory = Callable[..., Engine]


def engine_factory(kind: str) -> EngineFactory:
    for entry in entry_points(group="plinth.engines"):
        if entry.name == kind:
            factory: Any = entry.load()
            return factory  # type: ignore[no-any-return]
    known = sorted(e.name for e in entry_points(group="plinth.engines"))
    raise LookupError(f"No engine kind '{kind}' is installed (known: {', '.join(known)})")
