import numpy as np
import pytest
from kbsupport import WhitespaceSpans

from plinth.knowledge.chunking import WindowedEmbedder


@pytest.mark.anyio
async def test_long_text_is_pooled_from_windows_never_truncated() -> None:
    seen: list[str] = []

    async def embed(texts: list[str]) -> list[list[float]]:
        seen.extend(texts)
        # Each window's vector says which half of the vocabulary it saw.
        return [[1.0, 0.0] if t.startswith("a") else [0.0, 1.0] for t in texts]

    embedder = WindowedEmbedder(embed, WhitespaceSpans(), window=10)
    text = " ".join(["a"] * 10 + ["b"] * 10)
    vectors = await embedder.embed([text, "a short"])
    assert seen == [" ".join(["a"] * 10), " ".join(["b"] * 10), "a short"]
    assert np.allclose(vectors[0], [2**-0.5, 2**-0.5])  # equal windows, equal weight
    assert np.allclose(vectors[1], [1.0, 0.0])
    assert all(len(t.split()) <= 10 for t in seen)


@pytest.mark.anyio
async def test_windows_are_balanced() -> None:
    sizes: list[int] = []

    async def embed(texts: list[str]) -> list[list[float]]:
        sizes.extend(len(t.split()) for t in texts)
        return [[1.0] for _ in texts]

    await WindowedEmbedder(embed, WhitespaceSpans(), window=10).embed(["w " * 21])
    assert sizes == [7, 7, 7]
