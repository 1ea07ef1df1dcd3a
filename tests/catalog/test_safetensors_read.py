"""Plinth's numpy reader gives the safetensors library's arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plinth.catalog.embedding_gguf import bundled_embedding_model_dir
from plinth.catalog.safetensors_read import load_file

safetensors_numpy = pytest.importorskip("safetensors.numpy")  # the test extra


def test_the_bundled_weights_read_as_the_library_reads_them() -> None:
    path = bundled_embedding_model_dir() / "model.safetensors"
    mine, theirs = load_file(path), safetensors_numpy.load_file(str(path))
    assert mine.keys() == theirs.keys()
    for name, array in theirs.items():
        assert mine[name].dtype == array.dtype and np.array_equal(mine[name], array), name


def test_every_dtype_and_shape_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(15)
    tensors = {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f16": rng.standard_normal((5,)).astype(np.float16),
        "f64": rng.standard_normal((2, 2, 2)),
        "i64": rng.integers(-9, 9, (4,)),
        "i8": rng.integers(-9, 9, (2, 3)).astype(np.int8),
        "u8": rng.integers(0, 255, (7,)).astype(np.uint8),
        "scalar": np.array(1.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    path = tmp_path / "t.safetensors"
    safetensors_numpy.save_file(tensors, str(path), metadata={"format": "np"})
    read = load_file(path)
    assert read.keys() == tensors.keys()
    for name, array in tensors.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        assert np.array_equal(read[name], array), name
