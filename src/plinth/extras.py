"""Optional extras: features whose heavy dependencies the default install leaves out.

``pip install plinth`` serves chat, embeddings, the knowledge base on its own
database and everything else; Milvus (pymilvus and milvus-lite, with grpc,
pandas and a bundled Milvus server: most of a default venv's size) comes with
``pip install 'plinth[milvus]'``. A setting that needs an extra that is not
installed fails at start-up with one line naming the extra.
"""

from __future__ import annotations

import importlib.util

from plinth.errors import MissingExtra


def require(module: str, extra: str, needed_by: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingExtra(
            f"{needed_by} needs the '{extra}' extra, which is not installed: "
            f"pip install 'plinth[{extra}]'"
        )


def require_redis() -> None:
    require("redis", "redis", "redis_url (PLINTH_REDIS_URL)")


def require_milvus(uri: str | None) -> None:
    """pymilvus always; milvus-lite too when the URI is a local file."""
    require("pymilvus", "milvus", 'knowledge.backend = "milvus"')
    if uri is not None and "://" not in uri:
        require("milvus_lite", "milvus", f'knowledge.milvus_uri = "{uri}" (a milvus-lite file)')
