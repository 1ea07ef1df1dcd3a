"""Uploaded files and the text extracted from them once."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from plinth.store.schema.meta import metadata

# Uploaded files (the bytes live in the file storage, named by id). Visible to
# the key that uploaded them and to admins.
files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_id", String(40), nullable=True),
    Column("filename", String(512), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # Unix seconds, as the API shows it
    Column("expires_at", BigInteger, nullable=True),
    Index("ix_files_key_created", "key_id", "created_at"),
)

# The text extracted from a File at its first ingestion (plinth.vectorstores):
# parsed once, within the upload limits, and read back by the file-content
# endpoint and any later attach instead of parsing the bytes again (migration 15).
file_texts = Table(
    "file_texts",
    metadata,
    Column("file_id", String(64), primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
