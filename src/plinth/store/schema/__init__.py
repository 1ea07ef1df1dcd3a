"""Table definitions (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The tables are created and changed only by :mod:`plinth.store.migrations`.
One module per area; every table (and ``metadata``) is importable from here,
as it was when they were one module:

- ``meta``: ``metadata``, ``schema_migrations``;
- ``access``: API keys, tenants;
- ``ledger``: usage, failed attempts, privacy audit, the console's rollup;
- ``billing``: prices, limits, wallets, storage spans, plans, subscriptions;
- ``catalog``: models, deployments;
- ``uploads``: files, their extracted text;
- ``knowledge``: the ``kb_*`` index tables and the vector stores;
- ``batch_api``: batches, batch lines;
- ``bench``: bench runs and requests;
- ``console``: console users and sessions.
"""

from __future__ import annotations

from plinth.store.schema.access import api_keys, tenants
from plinth.store.schema.batch_api import batch_lines, batches
from plinth.store.schema.bench import bench_requests, bench_runs
from plinth.store.schema.billing import (
    limits,
    plans,
    prices,
    storage_spans,
    subscriptions,
    wallet_entries,
)
from plinth.store.schema.catalog import deployments, models
from plinth.store.schema.console import console_sessions, console_users
from plinth.store.schema.knowledge import (
    kb_chunk_vectors_next,
    kb_chunks,
    kb_files,
    kb_stores,
    vector_store_file_batches,
    vector_store_files,
    vector_store_reembeds,
    vector_stores,
)
from plinth.store.schema.ledger import privacy_audit, usage, usage_attempts, usage_rollup
from plinth.store.schema.meta import metadata, schema_migrations
from plinth.store.schema.uploads import file_texts, files

__all__ = [
    "api_keys",
    "batch_lines",
    "batches",
    "bench_requests",
    "bench_runs",
    "console_sessions",
    "console_users",
    "deployments",
    "file_texts",
    "files",
    "kb_chunk_vectors_next",
    "kb_chunks",
    "kb_files",
    "kb_stores",
    "limits",
    "metadata",
    "models",
    "plans",
    "prices",
    "privacy_audit",
    "schema_migrations",
    "storage_spans",
    "subscriptions",
    "tenants",
    "usage",
    "usage_attempts",
    "usage_rollup",
    "vector_store_file_batches",
    "vector_store_files",
    "vector_store_reembeds",
    "vector_stores",
    "wallet_entries",
]
