"""``plinth.knowledge`` is a retrieval library: it imports nothing of the application.

Settings, billing, the database schema and the engines reach vector stores
through ``plinth.vectorstores``, which injects what the library needs (an
embedder callable, an index, where blocking work runs). An AST scan, so a
lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import plinth.knowledge

FORBIDDEN = ("plinth.billing", "plinth.settings", "plinth.store", "plinth.engines")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_knowledge_imports_no_application_package() -> None:
    root = Path(plinth.knowledge.__file__).parent
    modules = sorted(root.glob("*.py"))
    assert len(modules) > 10  # the scan really reads the package
    offending = [
        f"{path.name}: {name}"
        for path in modules
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
        or name in ("plinth", *(f"plinth.{p.split('.')[1]}" for p in FORBIDDEN))
    ]
    assert offending == []
