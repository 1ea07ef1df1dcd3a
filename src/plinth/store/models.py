"""GGUF models a user added with ``plinth models add`` (bundled ones are not stored)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from plinth.errors import AlreadyExists
from plinth.store.schema import models


class ModelStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def add(self, model_id: str, kind: str, path: str, chat_template: str | None = None) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    models.insert().values(
                        id=model_id,
                        kind=kind,
                        path=path,
                        added_at=datetime.now(UTC),
                        chat_template=chat_template,
                    )
                )
        except IntegrityError:  # the primary key: the database is the one that knows
            raise AlreadyExists(f"A model named '{model_id}' already exists", param="id") from None

    def remove(self, model_id: str) -> bool:
        with self._engine.begin() as conn:
            return conn.execute(models.delete().where(models.c.id == model_id)).rowcount > 0

    def list(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(models).order_by(models.c.id)).mappings()]
