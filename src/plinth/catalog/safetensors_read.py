"""Reading a ``.safetensors`` file with numpy alone.

The format is an 8-byte little-endian header length, a JSON header (per
tensor: dtype, shape, byte offsets into the data that follows) and the raw
little-endian data. The bundled embedder's weights are read once, to convert
them to GGUF; this keeps the ``safetensors`` package out of the default
install. Arrays are read-only views of a memory map of the file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def load_file(path: Path) -> dict[str, np.ndarray]:
    """Every tensor in ``path`` by name; BF16 tensors come back as float32."""
    with path.open("rb") as f:
        (header_size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size)
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":  # the high half of a float32
            array = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in _DTYPES:
            array = raw.view(_DTYPES[info["dtype"]])
        else:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        tensors[name] = array.reshape(info["shape"])
    return tensors
