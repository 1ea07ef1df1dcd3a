"""The models this Plinth serves: bundled ones plus those added by users."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.engines.base import ModelKind
from plinth.errors import BundledModelMissing, EmbeddingConversionError
from plinth.store.models import ModelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    id: str
    kind: ModelKind
    path: Path
    source: str  # "bundled (<distribution>)" or "added"
    tokenizer_dir: Path | None = None
    chat_template: str | None = None  # None: the template in the GGUF, else ChatML


def model_specs(
    data_dir: Path,
    store: ModelStore,
    *,
    include_bundled: bool = True,
    progress: bool = True,
    wanted: frozenset[str] = frozenset(),
    no_gguf: frozenset[str] = frozenset(),
) -> list[ModelSpec]:
    """Resolve every model to a GGUF path; a missing bundled package is skipped with a warning.

    Optional bundled models (the multilingual embedder) are served only if ``wanted``.
    Bundled models in ``no_gguf`` run from their own folder (the numpy embedder): no
    GGUF is made for them, and their path is that folder.
    """
    specs: list[ModelSpec] = []
    if include_bundled:
        for bundled in BUNDLED_MODELS:
            if bundled.optional and bundled.id not in wanted:
                continue
            try:
                tokenizer_dir = bundled.tokenizer_dir() if bundled.tokenizer_dir else None
                if bundled.id in no_gguf and tokenizer_dir is not None:
                    path = tokenizer_dir
                else:
                    path = bundled.locate(data_dir, progress)
            except (BundledModelMissing, EmbeddingConversionError) as exc:
                log.warning("not serving %s: %s", bundled.id, exc)
                continue
            source = f"bundled ({bundled.distribution})"
            specs.append(ModelSpec(bundled.id, bundled.kind, path, source, tokenizer_dir))
    for row in store.list():
        specs.append(
            ModelSpec(
                row["id"], row["kind"], Path(row["path"]), "added", None, row["chat_template"]
            )
        )
    return specs


def bundled_ids() -> set[str]:
    return {m.id for m in BUNDLED_MODELS}
