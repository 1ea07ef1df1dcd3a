"""The long-lived objects one app holds, created in ``app.create_app``'s lifespan.

A handler reaches them with ``plinth.api.http.services(request)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plinth.api.http import BodyParser
from plinth.auth import Authenticator
from plinth.billing.guard import Billing
from plinth.billing.storage import StorageMeter
from plinth.engines.pool import EnginePool
from plinth.files.storage import FileStorage
from plinth.gateway import Gateway
from plinth.metering.recorder import UsageRecorder
from plinth.metrics import Metrics
from plinth.privacy.guard import PrivacyGuard
from plinth.routing.router import Router
from plinth.routing.sync import DeploymentSync
from plinth.settings import Settings
from plinth.store.audit import AuditStore
from plinth.store.door import Database
from plinth.store.files import FileStore
from plinth.store.keys import KeyStore
from plinth.store.tenants import TenantStore
from plinth.store.usage import UsageStore
from plinth.vectorstores.service import VectorStores


@dataclass
class Services:
    settings: Settings
    # The one async door to the database: handlers await ``db.run(fn, ...)``.
    db: Database
    keys: KeyStore
    tenants: TenantStore
    usage: UsageStore
    recorder: UsageRecorder
    metrics: Metrics
    engines: EnginePool
    router: Router
    deployments: DeploymentSync
    auth: Authenticator
    privacy: PrivacyGuard
    audit: AuditStore
    files: FileStore
    file_storage: FileStorage
    storage_meter: StorageMeter
    billing: Billing
    gateway: Gateway
    # The OpenAI Vector Stores API, over the retrieval library (``vector_stores.retrieval``).
    vector_stores: VectorStores
    # When this app started (epoch seconds): the "created" time of every model it serves.
    started_at: int
    # Large request bodies are parsed on its threads, a few per key at once.
    body_parser: BodyParser = field(default_factory=BodyParser)
