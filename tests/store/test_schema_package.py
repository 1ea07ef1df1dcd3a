"""``plinth.store.schema`` is a package of one module per area; callers import every
table from the package itself, and a migrated database has exactly its tables."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from sqlalchemy import Table, inspect

from plinth.store import schema
from plinth.store.database import open_database


def test_every_table_is_importable_from_the_package() -> None:
    assert set(schema.metadata.tables) <= set(schema.__all__)
    for name, table in schema.metadata.tables.items():
        assert getattr(schema, name) is table, name


def test_every_table_of_every_area_module_is_in_the_package() -> None:
    """A table in an area module that the package does not re-export, or that has its
    own MetaData, would be missed by callers and by the migrations' ``create_all``."""
    areas = [module.name for module in pkgutil.iter_modules(schema.__path__)]
    assert "ledger" in areas and "knowledge" in areas
    for area in areas:
        module = importlib.import_module(f"plinth.store.schema.{area}")
        for table in (value for value in vars(module).values() if isinstance(value, Table)):
            assert table.metadata is schema.metadata, (area, table.name)
            assert getattr(schema, table.name) is table, (area, table.name)


def test_a_migrated_database_has_exactly_the_schemas_tables(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'plinth.db'}")
    try:
        assert set(inspect(engine).get_table_names()) == set(schema.metadata.tables)
    finally:
        engine.dispose()
