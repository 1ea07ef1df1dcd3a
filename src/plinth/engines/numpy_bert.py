"""A BERT sentence embedder in plain numpy (fp32, the BLAS numpy ships with).

The bundled all-MiniLM-L6-v2 is small enough (6 layers, 384 wide) that its
forward pass is a handful of matrix products per layer; numpy hands those to
OpenBLAS, which picks the widest vector unit the CPU has (AVX-512 where
present), whereas the xllamacpp build runs AVX2 only. This computes what
sentence-transformers computes for the model: embeddings (word + position +
token type 0), LayerNorm, N encoder layers (self-attention, GELU feed-forward,
post-LayerNorm), mean pooling, L2 normalisation.

One text per forward pass, unpadded: the attention mask is all ones, so it
drops out, and no work is spent on padding.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plinth.catalog.safetensors_read import load_file

_F32 = np.float32

# Abramowitz & Stegun 7.1.26: |erf(x) - approximation| <= 1.5e-7 for x >= 0.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


# GELU(x) = max(x, 0) - |x| * q(|x|), q(a) = (1 - erf(a / sqrt 2)) / 2, with erf from
# the A&S form above: the 1/sqrt 2 folded into p, the 1/2 into the coefficients.
_GELU_P = _F32(_ERF_P / np.sqrt(2))
_GELU_A = tuple(_F32(c / 2) for c in _ERF_A)
# exp() of a float32 below about -87 is subnormal, and subnormal arithmetic is
# many times slower on x86: clamp exponents here (exp(-80) ~ 2e-35, nothing).
_EXP_FLOOR = _F32(-80)
# Rows per GELU block: each numpy pass then sweeps a block that stays in cache
# (64 x 1536 floats, 384 KiB; its four temporaries 1.5 MiB, within a 2 MiB L2),
# about 4x faster than whole-matrix passes, and half the calls of 32 rows.
_GELU_ROWS = 64


# Softmax without the row maximum subtracted, when no row needs it: scores are
# clipped to [-80, 82] (exp stays a normal float32, and a row's sum of at most
# 512 of them stays below float32's largest, 512 e^82 < 3.4e38) and
# exponentiated as they are. That is softmax exactly (it does not depend on a
# shift) as long as nothing was clipped that mattered: a sum at most e^81 means
# no score reached 82, and a sum at least e^-50 means the row's maximum is above
# -57, so a score clipped up to -80 weighs under e^-23 of it, below float32's
# resolution. A layer with a row outside those bounds is redone the usual way
# (the layer's [CLS] rows reach e^80.7 on a few SciFact texts: about 1 layer in
# 50 there). The short form is two passes over the (heads, n, n) scores, not four.
_CLIP_LOW, _CLIP_HIGH = _F32(-80), _F32(82)
_SUM_LOW = _F32(np.exp(-50.0))
_SUM_HIGH = _F32(np.exp(81.0))


def _exp_rows(scores: np.ndarray, *, shift: bool) -> np.ndarray:
    """exp() of the scores in place (shifted by each row's maximum, or clipped to
    [-80, 82]), returning each row's sum, (..., 1)."""
    if shift:
        scores -= scores.max(axis=-1, keepdims=True)
        np.maximum(scores, _EXP_FLOOR, out=scores)
    else:
        np.clip(scores, _CLIP_LOW, _CLIP_HIGH, out=scores)
    np.exp(scores, out=scores)
    total: np.ndarray = scores.sum(axis=-1, keepdims=True)
    return total


def _gelu_block(h: np.ndarray) -> None:
    a = np.abs(h)
    t = a * _GELU_P
    t += _F32(1)
    np.reciprocal(t, out=t)
    q = t * _GELU_A[4]
    for coeff in reversed(_GELU_A[:4]):
        q += coeff
        q *= t
    e = a * a
    e *= _F32(-0.5)
    np.maximum(e, _EXP_FLOOR, out=e)
    np.exp(e, out=e)
    q *= e
    q *= a
    np.maximum(h, _F32(0), out=h)
    h -= q


def _gelu_inplace(h: np.ndarray) -> None:
    """BERT's GELU, x * Phi(x) (the erf form, to about 5e-7), in place on float32 rows."""
    for start in range(0, h.shape[0], _GELU_ROWS):
        _gelu_block(h[start : start + _GELU_ROWS])


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    x = x - mean
    var = np.einsum("ij,ij->i", x, x)[:, None] / _F32(x.shape[-1])
    x *= 1 / np.sqrt(var + _F32(eps))
    x *= weight
    x += bias
    return x


def _shapes(config: dict[str, object], vocab: int) -> dict[str, tuple[int, ...]]:
    """Every tensor the forward pass reads, by name (without ``bert.``), with its shape."""
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    positions, layers = config["max_position_embeddings"], config["num_hidden_layers"]
    assert isinstance(hidden, int) and isinstance(inner, int), "config sizes"
    assert isinstance(positions, int) and isinstance(layers, int), "config sizes"
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (vocab, hidden),
        "embeddings.position_embeddings.weight": (positions, hidden),
        "embeddings.LayerNorm.weight": (hidden,),
        "embeddings.LayerNorm.bias": (hidden,),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name, out, width in [
            ("attention.self.query", hidden, hidden),
            ("attention.self.key", hidden, hidden),
            ("attention.self.value", hidden, hidden),
            ("attention.output.dense", hidden, hidden),
            ("intermediate.dense", inner, hidden),
            ("output.dense", hidden, inner),
        ]:
            shapes[f"{p}{name}.weight"] = (out, width)
            shapes[f"{p}{name}.bias"] = (out,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{p}{norm}.weight"] = (hidden,)
            shapes[f"{p}{norm}.bias"] = (hidden,)
    return shapes


def check_model_dir(model_dir: Path) -> None:
    """Raise ValueError unless the folder holds what ``NumpyBert`` loads: the config, and a
    safetensors file whose header lists every tensor with its shape and whose data is all
    there. Reads the header only, so nothing is loaded (``load = "on_first_use"``)."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    path = model_dir / "model.safetensors"
    try:
        with path.open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > path.stat().st_size:
                raise ValueError(f"a header of {size} bytes")
            header = json.loads(f.read(size))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in header else ""
        vocab = header[prefix + "embeddings.word_embeddings.weight"]["shape"][0]
        end = max(info["data_offsets"][1] for key, info in header.items() if key != "__metadata__")
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
        raise ValueError(f"{path} is not a readable safetensors file: {exc}") from exc
    for name, shape in _shapes(config, int(vocab)).items():
        info = header.get(prefix + name)
        if info is None or tuple(info["shape"]) != shape:
            got = "missing" if info is None else f"shape {tuple(info['shape'])}"
            raise ValueError(f"{path}: tensor {prefix + name} is {got}, the model needs {shape}")
    if path.stat().st_size < 8 + size + end:
        raise ValueError(f"{path} is truncated ({path.stat().st_size} bytes)")


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3*hidden): query (pre-scaled by 1/sqrt(head)), key, value
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


def _matrix(w: np.ndarray) -> np.ndarray:
    """A torch Linear's (out, in) weight as a contiguous (in, out) float32 matrix."""
    return np.ascontiguousarray(np.asarray(w, _F32).T)


def _vector(b: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(b, _F32))


class NumpyBert:
    """A BERT encoder's weights, ready for one-text forward passes."""

    def __init__(self, tensors: dict[str, np.ndarray], config: dict[str, object]):
        def num(key: str) -> int:
            value = config[key]
            assert isinstance(value, int), key
            return value

        self.hidden = num("hidden_size")
        self.heads = num("num_attention_heads")
        self.max_tokens = num("max_position_embeddings")
        eps = config.get("layer_norm_eps", 1e-12)
        assert isinstance(eps, float), "layer_norm_eps"
        self.eps = eps
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""

        def t(name: str) -> np.ndarray:
            return tensors[prefix + name]

        self.word = np.ascontiguousarray(t("embeddings.word_embeddings.weight"), _F32)
        self.position = np.ascontiguousarray(t("embeddings.position_embeddings.weight"), _F32)
        # Token type 0 for every token: a single-segment input.
        self.position_type0 = self.position + t("embeddings.token_type_embeddings.weight")[0]
        self.emb_ln = (
            _vector(t("embeddings.LayerNorm.weight")),
            _vector(t("embeddings.LayerNorm.bias")),
        )
        scale = _F32(1 / np.sqrt(self.hidden // self.heads))
        self.layers: list[_Layer] = []
        for i in range(num("num_hidden_layers")):
            p = f"encoder.layer.{i}."
            att = p + "attention."
            q_w = _matrix(t(att + "self.query.weight")) * scale
            q_b = _vector(t(att + "self.query.bias")) * scale
            k_w, v_w = _matrix(t(att + "self.key.weight")), _matrix(t(att + "self.value.weight"))
            k_b, v_b = _vector(t(att + "self.key.bias")), _vector(t(att + "self.value.bias"))
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1)),
                    qkv_b=np.concatenate([q_b, k_b, v_b]),
                    out_w=_matrix(t(att + "output.dense.weight")),
                    out_b=_vector(t(att + "output.dense.bias")),
                    ln1_w=_vector(t(att + "output.LayerNorm.weight")),
                    ln1_b=_vector(t(att + "output.LayerNorm.bias")),
                    up_w=_matrix(t(p + "intermediate.dense.weight")),
                    up_b=_vector(t(p + "intermediate.dense.bias")),
                    down_w=_matrix(t(p + "output.dense.weight")),
                    down_b=_vector(t(p + "output.dense.bias")),
                    ln2_w=_vector(t(p + "output.LayerNorm.weight")),
                    ln2_b=_vector(t(p + "output.LayerNorm.bias")),
                )
            )

    @classmethod
    def from_model_dir(cls, model_dir: Path) -> NumpyBert:
        """A sentence-transformers folder: ``config.json`` and ``model.safetensors``."""
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        return cls(load_file(model_dir / "model.safetensors"), config)

    def _attention(self, qkv: np.ndarray, n: int) -> np.ndarray:
        """Softmax attention, all heads in each numpy call: a dozen calls per layer
        instead of a dozen per head. Each call gives up the interpreter lock and
        takes it back, and the copies of the model share one interpreter; the
        (heads, n, n) scores (4.7 MiB at 320 tokens) cost no more than head by
        head here (benchmarks/results/ingest_throughput.md, run 9)."""
        heads, width = self.heads, self.hidden // self.heads
        # (n, 3 * hidden) -> strided views, no copies: BLAS reads them as they are.
        parts = qkv.reshape(n, 3, heads, width)
        query = parts[:, 0].transpose(1, 0, 2)  # (heads, n, width)
        key_t = parts[:, 1].transpose(1, 2, 0)  # (heads, width, n)
        value = parts[:, 2].transpose(1, 0, 2)
        scores = np.matmul(query, key_t)
        total = _exp_rows(scores, shift=False)
        if not (total.min() >= _SUM_LOW and total.max() <= _SUM_HIGH):
            # A row too large or too small for the short form: the layer's scores
            # again, each row shifted by its maximum.
            scores = np.matmul(query, key_t)
            total = _exp_rows(scores, shift=True)
        context = np.matmul(scores, value)
        # Normalising the (n, width) outputs costs less than the (n, n) weights.
        context /= total
        merged: np.ndarray = context.transpose(1, 0, 2).reshape(n, self.hidden)
        return merged

    def embed_ids(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The L2-normalised mean-pooled embedding of one text's token ids."""
        n = len(ids)
        if not 0 < n <= self.max_tokens:
            raise ValueError(f"{n} tokens; the model reads 1 to {self.max_tokens}")
        x = self.word[np.asarray(ids, np.int64)]
        x += self.position_type0[:n]
        x = _layer_norm(x, *self.emb_ln, self.eps)
        for layer in self.layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            context = self._attention(qkv, n)
            attended = context @ layer.out_w
            attended += layer.out_b
            attended += x
            x = _layer_norm(attended, layer.ln1_w, layer.ln1_b, self.eps)
            h = x @ layer.up_w
            h += layer.up_b
            _gelu_inplace(h)
            out = h @ layer.down_w
            out += layer.down_b
            out += x
            x = _layer_norm(out, layer.ln2_w, layer.ln2_b, self.eps)
        pooled = x.mean(axis=0)
        norm = float(np.linalg.norm(pooled))
        normalised: np.ndarray = pooled / _F32(max(norm, 1e-12))
        return normalised
