"""Knowledge bases: the index's tables (``kb_*``) and the OpenAI vector stores over them."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Table, Text

from plinth.store.schema.meta import metadata

# Knowledge bases (plinth.knowledge). A store's ``version`` goes up in the same
# transaction as every change to its files, so another process (or replica)
# holding the store's in-memory index notices and reloads it.
kb_stores = Table(
    "kb_stores",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("dims", Integer, nullable=True),  # None: lexical only
    Column("version", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
)

# One row per file in a store: its attributes (JSON) for search filters.
kb_files = Table(
    "kb_files",
    metadata,
    Column("store_id", String(64), primary_key=True),
    Column("file_id", String(64), primary_key=True),
    Column("attributes", Text, nullable=False, default="{}"),
    Column("chunks", Integer, nullable=False, default=0),
    Column("tokens", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
)

# Chunks with their BM25 terms (space-joined, analysed once) and their
# embedding as float32 bytes; the in-memory indexes are rebuilt from these.
kb_chunks = Table(
    "kb_chunks",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("store_id", String(64), nullable=False),
    Column("file_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("terms", Text, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=True),
    Index("ix_kb_chunks_store_file", "store_id", "file_id"),
    Index("ix_kb_chunks_store_id", "store_id", "id"),
)

# OpenAI vector stores (plinth.vectorstores): the API's view of a knowledge
# store — owner, name, metadata, expiry — and each file's ingestion state. The
# chunks themselves live in the index (kb_* tables or Milvus) under the same id.
vector_stores = Table(
    "vector_stores",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(40), nullable=True),  # None: created by an admin tool (CLI)
    Column("tenant_id", String(40), nullable=True),
    Column("name", String(256), nullable=False),
    Column("meta", Text, nullable=False),  # JSON object, OpenAI's `metadata`
    Column("expires_after_days", Integer, nullable=True),
    # Default chunking (JSON) for files attached without one (`plinth kb create`).
    Column("chunking", Text, nullable=True),
    Column("usage_bytes", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_active_at", BigInteger, nullable=False),
    # The embedding model that made the store's vectors (migration 31); None:
    # made before Plinth recorded it, read as the configured knowledge.embedding_model.
    Column("embedder", String(200), nullable=True),
    Index("ix_vector_stores_key", "key_id", "created_at"),
)

# Re-embedding a store with another model (plinth.vectorstores.reembed,
# migration 31): one row per store, the latest run. The new vectors are staged
# in kb_chunk_vectors_next by chunk id; searches keep the old ones until every
# chunk has a new one, then one transaction swaps them in.
vector_store_reembeds = Table(
    "vector_store_reembeds",
    metadata,
    Column("vector_store_id", String(64), primary_key=True),
    Column("embedder", String(200), nullable=False),  # the target model
    Column("previous", String(200), nullable=True),
    Column("status", String(16), nullable=False),  # in_progress|completed|failed
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
)

kb_chunk_vectors_next = Table(
    "kb_chunk_vectors_next",
    metadata,
    Column("chunk_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("store_id", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Index("ix_kb_chunk_vectors_next_store", "store_id"),
)

vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column("vector_store_id", String(64), primary_key=True),
    Column("file_id", String(64), primary_key=True),
    Column("batch_id", String(64), nullable=True),
    Column("filename", String(512), nullable=False),
    Column("status", String(16), nullable=False),  # in_progress|completed|failed|cancelled
    Column("error_code", String(32), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("chunking", Text, nullable=False),  # JSON, OpenAI's static strategy
    Column("attributes", Text, nullable=False),  # JSON object
    Column("usage_bytes", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_vector_store_files_batch", "batch_id"),
    Index("ix_vector_store_files_status", "status"),
)

vector_store_file_batches = Table(
    "vector_store_file_batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("vector_store_id", String(64), nullable=False),
    Column("cancelled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
