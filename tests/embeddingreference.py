"""The reference embeddings both embedders are checked against (importable: tests/ is on
sys.path): ``tests/data/embedding_reference.json``, written by
``scripts/make_embedding_reference.py`` from sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

PATH = Path(__file__).parent / "data" / "embedding_reference.json"

#: One item per text: ``text``, its ``tokens`` count and its ``embedding`` (384 floats).
REFERENCE: list[dict[str, Any]] = json.loads(PATH.read_text("utf-8"))["items"]
TEXTS: list[str] = [item["text"] for item in REFERENCE]


def reference_vectors() -> np.ndarray:
    """The reference embeddings as one float32 array, a row per text of :data:`TEXTS`."""
    return np.array([item["embedding"] for item in REFERENCE], np.float32)
