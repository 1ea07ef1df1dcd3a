"""Deployments added at run time (admin API, CLI), stored as validated JSON."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import Engine, select

from plinth.deployment import Deployment
from plinth.errors import AlreadyExists, NotFound
from plinth.store.schema import deployments

log = logging.getLogger(__name__)


class DeploymentStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def list(self) -> list[Deployment]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(deployments.c.id, deployments.c.spec).order_by(deployments.c.id)
            )
            return [d for d in (_readable(row.id, row.spec) for row in rows) if d is not None]

    def get(self, deployment_id: str) -> Deployment | None:
        with self._engine.connect() as conn:
            spec = conn.scalar(select(deployments.c.spec).where(deployments.c.id == deployment_id))
        return Deployment.model_validate_json(spec) if spec else None

    def add(self, deployment: Deployment) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            found = conn.scalar(select(deployments.c.id).where(deployments.c.id == deployment.id))
            if found is not None:
                raise AlreadyExists(f"A deployment '{deployment.id}' exists already", param="id")
            conn.execute(
                deployments.insert().values(
                    id=deployment.id,
                    model=deployment.model,
                    spec=deployment.model_dump_json(),
                    created_at=now,
                    updated_at=now,
                )
            )

    def replace(self, deployment: Deployment) -> None:
        with self._engine.begin() as conn:
            result = conn.execute(
                deployments.update()
                .where(deployments.c.id == deployment.id)
                .values(
                    model=deployment.model,
                    spec=deployment.model_dump_json(),
                    updated_at=datetime.now(UTC),
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"No deployment '{deployment.id}'", param="id")

    def remove(self, deployment_id: str) -> Deployment:
        with self._engine.begin() as conn:
            spec = conn.scalar(select(deployments.c.spec).where(deployments.c.id == deployment_id))
            if spec is None:
                raise NotFound(f"No deployment '{deployment_id}'", param="id")
            conn.execute(deployments.delete().where(deployments.c.id == deployment_id))
        return Deployment.model_validate_json(spec)


def _readable(deployment_id: str, spec: str) -> Deployment | None:
    """A stored deployment, or None (logged) if it no longer validates here, e.g. it
    names a plugin engine this replica does not have: the others must still load."""
    try:
        return Deployment.model_validate_json(spec)
    except ValidationError as exc:
        log.error("stored deployment %r skipped: %s", deployment_id, exc.errors()[0]["msg"])
        return None
