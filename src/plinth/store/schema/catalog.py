"""What serves: local models and deployments added at run time."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, Text

from plinth.store.schema.meta import metadata

models = Table(
    "models",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("path", Text, nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    # A llama.cpp built-in template name, or a Jinja template's text (migration 14).
    Column("chat_template", Text, nullable=True),
)

# Deployments added through the admin API or CLI (those in plinth.toml are not
# stored). ``spec`` is the Deployment as JSON: it names the environment
# variable holding the API key, never the key itself.
deployments = Table(
    "deployments",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("spec", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
