"""Import direction: deployments and engine kinds sit below engines/ and routing/."""

from __future__ import annotations

import ast
from pathlib import Path

import plinth

SRC = Path(plinth.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _plinth_imports(*paths: Path) -> dict[str, set[str]]:
    return {
        str(p.relative_to(SRC)): {m for m in _imports(p) if m.startswith("plinth.")} for p in paths
    }


def test_engines_never_import_routing() -> None:
    offenders = {
        name: sorted(m for m in modules if m.startswith("plinth.routing"))
        for name, modules in _plinth_imports(*sorted((SRC / "engines").glob("*.py"))).items()
    }
    assert {n: m for n, m in offenders.items() if m} == {}


def test_deployment_and_engine_kinds_import_neither_engines_nor_routing() -> None:
    modules = _plinth_imports(SRC / "deployment.py", SRC / "engine_kinds.py")
    assert modules == {"deployment.py": {"plinth.engine_kinds"}, "engine_kinds.py": set()}


def test_routing_does_not_import_metering() -> None:
    used = _plinth_imports(*sorted((SRC / "routing").glob("*.py")))
    assert {n: m for n, m in used.items() if any(x.startswith("plinth.metering") for x in m)} == {}
