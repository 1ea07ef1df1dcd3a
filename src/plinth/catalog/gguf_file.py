"""GGUF files: a bounded reader of metadata and tensor descriptions, and a small writer.

Written from the format's description (llama.cpp's ``docs/gguf.md``, version 3,
little-endian): the magic ``GGUF``, a uint32 version, uint64 tensor and
key-value counts; each key a string (uint64 length + UTF-8), a uint32 value
type and the value; each tensor its name, uint32 dimension count, uint64
dimensions (innermost first), uint32 ggml type and uint64 offset into the
data section, which starts at the next multiple of ``general.alignment``
(32 unless given). Every tensor's data starts at such a multiple too.

Plinth used the ``gguf`` package for this; it pulls in requests, PyYAML and
their dependencies (~11 MB of the light install) for a few hundred lines of
work. ``tests/catalog/test_gguf_file.py`` checks that the converters' output
is byte-identical to what ``gguf`` writes for the same input, and that this
reader agrees with ``gguf.GGUFReader``.

The reader takes any file, possibly hostile: each length and count is checked
against the bytes the file still has before anything is read or allocated, so
a truncated file or one claiming 2**64 entries raises ``GGUFFormatError``. The
header itself is capped (``MAX_HEADER_BYTES``, ``MAX_HEADER_VALUES``, ``MAX_KEYS``),
so a multi-GB file of tiny values costs bounded memory and time too.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np

MAGIC = b"GGUF"
VERSION = 3
DEFAULT_ALIGNMENT = 32
ALIGNMENT_KEY = "general.alignment"
MAX_DIMS = 4  # ggml's GGML_MAX_DIMS
_MAX_ARRAY_NESTING = 4
# What a header (everything before the tensor data) may hold, so that reading a hostile
# multi-GB file costs bounded memory and time: a real one is a few MB (a 256 K-token
# vocabulary with its merges), well under 1 M strings. Without these, 32 MB of empty
# nested arrays took ~6 s and ~320 MB (a Python object per 12 bytes of file); at the
# caps a hostile header costs at most a few seconds and ~250 MB.
MAX_HEADER_BYTES = 256 * 1024 * 1024
MAX_HEADER_VALUES = 2_000_000
# Keys are a few dozen in a real file (arrays hold the vocabulary); 1.6 M keys in 28 MB
# took ~6 s to read.
MAX_KEYS = 65_536


class GGUFFormatError(ValueError):
    """The file is not a GGUF this reader understands, or it is cut short or inconsistent."""


class ValueType(IntEnum):
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# struct format of each fixed-size value type (all little-endian).
_SCALAR_FORMATS: dict[ValueType, str] = {
    ValueType.UINT8: "<B",
    ValueType.INT8: "<b",
    ValueType.UINT16: "<H",
    ValueType.INT16: "<h",
    ValueType.UINT32: "<I",
    ValueType.INT32: "<i",
    ValueType.FLOAT32: "<f",
    ValueType.BOOL: "<?",
    ValueType.UINT64: "<Q",
    ValueType.INT64: "<q",
    ValueType.FLOAT64: "<d",
}


class TensorType(IntEnum):
    """The ggml element types this module writes (the reader keeps any type id)."""

    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q8_0 = 8


# (elements per block, bytes per block) of the ggml types whose size the
# reader reports; a type missing here is still read, with nbytes None.
_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0: an F16 scale + 32 four-bit values
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0: an F16 scale + 32 int8
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    30: (1, 2),  # BF16
}

# llama.cpp's enums that Plinth's converters write (llama_token_type,
# llama_pooling_type, llama_ftype).
TOKEN_NORMAL = 1
TOKEN_CONTROL = 3
TOKEN_UNUSED = 5
POOLING_MEAN = 1
FILE_TYPE_F16 = 1
FILE_TYPE_Q4_0 = 2
FILE_TYPE_Q8_0 = 7

Value: TypeAlias = Any  # int | float | bool | str | list[Value] | numpy array


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # GGUF order: the innermost (row) dimension first
    type: int  # ggml type id
    offset: int  # absolute position of the data in the file

    @property
    def n_elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def nbytes(self) -> int | None:
        block = _BLOCKS.get(self.type)
        if block is None:
            return None
        return self.n_elements // block[0] * block[1]


@dataclass
class GGUFFile:
    version: int
    metadata: dict[str, Value]
    value_types: dict[str, ValueType]
    tensors: list[TensorInfo]
    alignment: int
    data_offset: int


class _Cursor:
    """Reads from a file, refusing any request for more bytes than remain."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self._handle = handle
        self.size = size
        self.pos = 0
        self.values = 0

    @property
    def remaining(self) -> int:
        """What is left to read: of the file, and of what a header may hold."""
        return min(self.size, MAX_HEADER_BYTES) - self.pos

    def value(self, what: str) -> None:
        """Counts one more key, string, array or tensor against MAX_HEADER_VALUES."""
        self.values += 1
        if self.values > MAX_HEADER_VALUES:
            raise GGUFFormatError(f"{what}: the header holds over {MAX_HEADER_VALUES} values")

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.remaining:
            raise GGUFFormatError(
                f"{what} needs {n} bytes at offset {self.pos}, the file has {self.remaining} left"
                f" (a header may take {MAX_HEADER_BYTES})"
            )
        data = self._handle.read(n)
        if len(data) != n:  # the file shrank while being read
            raise GGUFFormatError(f"{what}: the file ends at offset {self.pos + len(data)}")
        self.pos += n
        return data

    def unpack(self, fmt: str, what: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        length = self.unpack("<Q", what)
        try:
            return self.take(length, what).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GGUFFormatError(f"{what} is not UTF-8: {exc}") from None


def _value_type(raw: int, what: str) -> ValueType:
    try:
        return ValueType(raw)
    except ValueError:
        raise GGUFFormatError(f"{what} has an unknown value type {raw}") from None


def _read_value(cursor: _Cursor, vtype: ValueType, what: str, depth: int = 0) -> Value:
    if vtype == ValueType.STRING:
        cursor.value(what)
        return cursor.string(what)
    if vtype != ValueType.ARRAY:
        return cursor.unpack(_SCALAR_FORMATS[vtype], what)
    cursor.value(what)
    if depth >= _MAX_ARRAY_NESTING:
        raise GGUFFormatError(f"{what} nests arrays more than {_MAX_ARRAY_NESTING} deep")
    item_type = _value_type(cursor.unpack("<I", what), what)
    count = cursor.unpack("<Q", what)
    if item_type in _SCALAR_FORMATS:
        item_size = struct.calcsize(_SCALAR_FORMATS[item_type])
        # take() checks count * item_size against the bytes left before reading.
        raw = cursor.take(count * item_size, f"{what} ({count} items)")
        return np.frombuffer(raw, dtype=np.dtype(_SCALAR_FORMATS[item_type]))
    # Strings and arrays take at least 8 bytes each (a length or a type and a count).
    if count * 8 > cursor.remaining or cursor.values + count > MAX_HEADER_VALUES:
        raise GGUFFormatError(
            f"{what} claims {count} items, more than the file (or a header's"
            f" {MAX_HEADER_VALUES} values) can hold"
        )
    return [_read_value(cursor, item_type, what, depth + 1) for _ in range(count)]


def read_gguf(path: str | os.PathLike[str]) -> GGUFFile:
    """The metadata and tensor descriptions of a GGUF (tensor data is not read)."""
    with open(path, "rb") as handle:
        cursor = _Cursor(handle, os.fstat(handle.fileno()).st_size)
        magic = cursor.take(4, "the magic") if cursor.remaining >= 4 else b""
        if magic != MAGIC:
            raise GGUFFormatError(f"{path} is not a GGUF file (no 'GGUF' magic)")
        version = cursor.unpack("<I", "the version")
        if version not in (2, 3):  # 2 differs from 3 only in allowing big-endian files
            raise GGUFFormatError(f"GGUF version {version} is not supported")
        n_tensors = cursor.unpack("<Q", "the tensor count")
        n_kv = cursor.unpack("<Q", "the key count")
        # A key-value pair takes at least 13 bytes, a tensor description 24.
        too_many = n_kv > MAX_KEYS or n_kv + n_tensors > MAX_HEADER_VALUES
        if n_kv * 13 + n_tensors * 24 > cursor.remaining or too_many:
            raise GGUFFormatError(
                f"the header claims {n_kv} keys and {n_tensors} tensors, "
                "more than the file (or a header's limits) can hold"
            )
        metadata: dict[str, Value] = {}
        value_types: dict[str, ValueType] = {}
        for index in range(n_kv):
            cursor.value(f"key {index}")
            key = cursor.string(f"key {index}")
            vtype = _value_type(cursor.unpack("<I", f"key {key!r}"), f"key {key!r}")
            if key in metadata:
                raise GGUFFormatError(f"key {key!r} appears twice")
            metadata[key] = _read_value(cursor, vtype, f"key {key!r}")
            value_types[key] = vtype
        alignment = metadata.get(ALIGNMENT_KEY, DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise GGUFFormatError(f"{ALIGNMENT_KEY} = {alignment!r} is not a power of two")
        infos: list[tuple[str, tuple[int, ...], int, int]] = []
        names: set[str] = set()
        for index in range(n_tensors):
            cursor.value(f"tensor {index}")
            name = cursor.string(f"tensor {index}'s name")
            n_dims = cursor.unpack("<I", f"tensor {name!r}")
            if n_dims > MAX_DIMS:
                raise GGUFFormatError(f"tensor {name!r} has {n_dims} dimensions")
            shape = struct.unpack(f"<{n_dims}Q", cursor.take(8 * n_dims, f"tensor {name!r}"))
            ttype = cursor.unpack("<I", f"tensor {name!r}")
            offset = cursor.unpack("<Q", f"tensor {name!r}")
            if offset % alignment:
                raise GGUFFormatError(f"tensor {name!r}'s offset {offset} is not aligned")
            if name in names:  # as ggml's reader: a name must find one tensor
                raise GGUFFormatError(f"tensor {name!r} appears twice")
            names.add(name)
            infos.append((name, shape, ttype, offset))
        data_offset = _aligned(cursor.pos, alignment)
    tensors = [
        TensorInfo(name, shape, ttype, data_offset + offset) for name, shape, ttype, offset in infos
    ]
    for tensor in tensors:
        end = tensor.offset + (tensor.nbytes or 0)
        if end > cursor.size:
            raise GGUFFormatError(f"tensor {tensor.name!r} runs past the end of the file")
    return GGUFFile(version, metadata, value_types, tensors, alignment, data_offset)


def _aligned(offset: int, alignment: int) -> int:
    return offset + (-offset % alignment)


# --- writing -------------------------------------------------------------------------


def _string_bytes(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _value_bytes(vtype: ValueType, value: Value) -> bytes:
    if vtype == ValueType.STRING:
        return _string_bytes(value)
    return struct.pack(_SCALAR_FORMATS[vtype], value)


def _round_half_away(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """C's roundf on float32, exactly: |x|'s fraction compared with 0.5, no x + 0.5
    (which rounds 0.49999997 up in float32)."""
    magnitude = np.abs(values)
    whole = np.floor(magnitude)
    rounded: np.ndarray[Any, Any] = whole + (magnitude - whole >= 0.5)
    np.copysign(rounded, values, out=rounded)
    return rounded


def _blocks(matrix: np.ndarray[Any, Any], block: int) -> np.ndarray[Any, Any]:
    values = np.ascontiguousarray(matrix, dtype=np.float32)
    if values.ndim == 0 or values.shape[-1] % block:
        raise ValueError(f"the rows' length must be a multiple of {block}, not {values.shape}")
    return values.reshape(-1, block)


def quantize_q8_0(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """ggml's reference Q8_0: per 32 values, d = max|x| / 127 (stored as F16) and
    round(x / d) as int8. Returns uint8 rows of 34-byte blocks."""
    blocks = _blocks(matrix, 32)
    scale = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore"):
        inverse = np.where(scale == 0, np.float32(0), np.float32(1) / scale).astype(np.float32)
    quants = _round_half_away(blocks * inverse).astype(np.int8)
    out = np.concatenate([scale.astype("<f2").view(np.uint8), quants.view(np.uint8)], axis=1)
    return out.reshape(*matrix.shape[:-1], matrix.shape[-1] // 32 * 34)


def quantize_q4_0(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """ggml's reference Q4_0: per 32 values, d = (the value of largest magnitude) / -8
    (F16), q = min(15, trunc(x / d + 8.5)); value j in the low nibble of byte j,
    value j + 16 in its high nibble. Returns uint8 rows of 18-byte blocks."""
    blocks = _blocks(matrix, 32)
    peak = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=1)[:, None], axis=1)
    scale = (peak / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inverse = np.where(scale == 0, np.float32(0), np.float32(1) / scale).astype(np.float32)
    levels = np.trunc(blocks * inverse + np.float32(8.5))
    quants = np.minimum(levels, 15).astype(np.uint8)
    packed = quants[:, :16] | (quants[:, 16:] << 4)
    out = np.concatenate([scale.astype("<f2").view(np.uint8), packed], axis=1)
    return out.reshape(*matrix.shape[:-1], matrix.shape[-1] // 32 * 18)


@dataclass
class _PendingTensor:
    name: str
    data: np.ndarray[Any, Any]
    shape: tuple[int, ...]  # GGUF order
    type: TensorType


@dataclass
class GGUFWriter:
    """Collects keys and tensors in order, then ``write`` lays the file out at once.

    Keys are written in the order added, ``general.architecture`` first.
    """

    architecture: str
    alignment: int = DEFAULT_ALIGNMENT
    _kv: list[bytes] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)
    _tensors: list[_PendingTensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.add_string("general.architecture", self.architecture)
        if self.alignment != DEFAULT_ALIGNMENT:
            self.add_uint32(ALIGNMENT_KEY, self.alignment)

    def _add(self, key: str, encoded: bytes) -> None:
        if key in self._keys:
            raise ValueError(f"duplicate key {key!r}")
        self._keys.add(key)
        self._kv.append(_string_bytes(key) + encoded)

    def add_scalar(self, key: str, vtype: ValueType, value: Value) -> None:
        if vtype == ValueType.ARRAY:
            raise ValueError("use add_array for arrays")
        self._add(key, struct.pack("<I", vtype) + _value_bytes(vtype, value))

    def add_uint32(self, key: str, value: int) -> None:
        self.add_scalar(key, ValueType.UINT32, value)

    def add_float32(self, key: str, value: float) -> None:
        self.add_scalar(key, ValueType.FLOAT32, value)

    def add_bool(self, key: str, value: bool) -> None:
        self.add_scalar(key, ValueType.BOOL, value)

    def add_string(self, key: str, value: str) -> None:
        self.add_scalar(key, ValueType.STRING, value)

    def add_array(self, key: str, item_type: ValueType, values: Sequence[Value]) -> None:
        if item_type == ValueType.ARRAY:
            raise ValueError("nested arrays are not written by Plinth")
        head = struct.pack("<IIQ", ValueType.ARRAY, item_type, len(values))
        if item_type == ValueType.STRING:
            body = b"".join(_string_bytes(value) for value in values)
        else:
            body = np.asarray(values, dtype=np.dtype(_SCALAR_FORMATS[item_type])).tobytes()
        self._add(key, head + body)

    def add_tensor(
        self, name: str, data: np.ndarray[Any, Any], tensor_type: TensorType | None = None
    ) -> None:
        """F32 or F16 data as its dtype says; Q8_0 / Q4_0 as uint8 rows of blocks
        (``quantize_q8_0``), with ``tensor_type`` naming the quantisation."""
        if any(pending.name == name for pending in self._tensors):
            raise ValueError(f"duplicate tensor {name!r}")
        if tensor_type is None:
            types = {np.dtype(np.float32): TensorType.F32, np.dtype(np.float16): TensorType.F16}
            if data.dtype not in types:
                raise ValueError(f"tensor {name!r}: give tensor_type for dtype {data.dtype}")
            tensor_type = types[data.dtype]
        dims = list(data.shape)
        if tensor_type in (TensorType.Q4_0, TensorType.Q8_0):
            block, block_bytes = _BLOCKS[tensor_type]
            if data.dtype != np.uint8 or not dims or dims[-1] % block_bytes:
                raise ValueError(f"tensor {name!r}: {tensor_type.name} takes uint8 block rows")
            dims[-1] = dims[-1] // block_bytes * block
        if len(dims) > MAX_DIMS:
            raise ValueError(f"tensor {name!r} has more than {MAX_DIMS} dimensions")
        data = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<"), copy=False)
        self._tensors.append(_PendingTensor(name, data, tuple(reversed(dims)), tensor_type))

    def write(self, out: IO[bytes]) -> None:
        infos = bytearray()
        offset = 0
        for tensor in self._tensors:
            infos += _string_bytes(tensor.name)
            infos += struct.pack("<I", len(tensor.shape))
            infos += struct.pack(f"<{len(tensor.shape)}Q", *tensor.shape)
            infos += struct.pack("<IQ", tensor.type, offset)
            offset = _aligned(offset + tensor.data.nbytes, self.alignment)
        header = struct.pack("<4sIQQ", MAGIC, VERSION, len(self._tensors), len(self._kv))
        written = _write_all(out, [header, *self._kv, bytes(infos)])
        out.write(bytes(-written % self.alignment))
        for tensor in self._tensors:
            out.write(tensor.data.reshape(-1).view(np.uint8).data)
            out.write(bytes(-tensor.data.nbytes % self.alignment))


def _write_all(out: IO[bytes], parts: Iterable[bytes]) -> int:
    total = 0
    for part in parts:
        out.write(part)
        total += len(part)
    return total


def write_gguf_file(writer: GGUFWriter, path: Path) -> Path:
    """Write ``writer``'s file to ``path`` atomically: a temp file in the same folder
    (made 0600), flushed to disk, then renamed over ``path``. A crash or a concurrent
    reader never sees half a model under the final name, and the bytes are on disk
    before the rename (a converter's reuse check reads only the version marker)."""
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            writer.write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path
