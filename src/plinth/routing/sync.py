"""Keeps the router's table in step with plinth.toml and the database.

Deployments added through the admin API or the CLI live in the database;
every replica re-reads them every ``routing.refresh_interval_s`` seconds, and
the replica that made a change applies it at once.
"""

from __future__ import annotations

import asyncio
import logging

from plinth.deployment import Deployment
from plinth.routing.router import Router
from plinth.store.deployments import DeploymentStore
from plinth.store.door import Database

log = logging.getLogger(__name__)


class DeploymentSync:
    def __init__(
        self,
        router: Router,
        configured: list[Deployment],
        store: DeploymentStore,
        db: Database,
    ):
        self.router = router
        self.db = db
        self.configured = configured
        self.store = store
        self._seen: list[Deployment] | None = None

    async def refresh(self, *, force: bool = False) -> None:
        stored = await self.db.run(self.store.list)
        if not force and stored == self._seen:
            return
        self._seen = stored
        await self.router.load(
            [(d, "config") for d in self.configured] + [(d, "api") for d in stored]
        )

    async def run(self, interval_s: float) -> None:
        """Forever: pick up changes made by other processes (cancel to stop)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.refresh()
            except Exception:
                log.exception("re-reading deployments failed; keeping the current table")
