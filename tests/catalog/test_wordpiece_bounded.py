"""The embedder's tokenizer does bounded work on over-long input, and never off by a token."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plinth.catalog.embedding_gguf import bundled_embedding_model_dir
from plinth.catalog.wordpiece import WordPieceTokenizer, _leading_words


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer.from_model_dir(bundled_embedding_model_dir())


class Recording:
    """Stands in for the WordPiece tokenizer and notes what it was asked to encode."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.lengths: list[int] = []
        self.threads: set[int] = set()

    def encode_batch(self, texts: list[str]) -> Any:
        self.lengths += [len(t) for t in texts]
        self.threads.add(threading.get_ident())
        return self.inner.encode_batch(texts)


@pytest.fixture
def recording(tokenizer: WordPieceTokenizer, monkeypatch: pytest.MonkeyPatch) -> Recording:
    spy = Recording(tokenizer._tokenizer)
    monkeypatch.setattr(tokenizer, "_tokenizer", spy)
    return spy


def test_a_huge_input_is_refused_after_tokenizing_only_its_head(
    tokenizer: WordPieceTokenizer, recording: Recording
) -> None:
    huge = "The quick brown fox jumps over the lazy dog. " * 100_000  # 4.5 MB
    spaceless = "数据" * 1_000_000  # no spaces: cut before an ideograph
    ids = tokenizer.encode_batch(["short", huge, spaceless], stop_over=512)
    assert len(ids[0]) == 3 and len(ids[1]) > 512 and len(ids[2]) > 512
    assert max(recording.lengths) <= 512 * 16


@pytest.mark.parametrize(
    "text",
    ["x" * 20_000, " " * 20_000 + "word", "word " * 500 + "y" * 10_000],
)
def test_odd_long_inputs_get_their_exact_ids(tokenizer: WordPieceTokenizer, text: str) -> None:
    assert tokenizer.encode_batch([text], stop_over=512) == tokenizer.encode_batch([text])


_WORDY = st.text(
    alphabet=st.sampled_from(list("abcXYZ éü数据한 .,!?'-\n\t\u0301\u00a0")), max_size=400
)


@settings(max_examples=300, deadline=None)
@given(text=_WORDY, chars=st.integers(min_value=1, max_value=400))
def test_the_head_never_has_more_tokens_than_the_whole(
    tokenizer: WordPieceTokenizer, text: str, chars: int
) -> None:
    head = _leading_words(text, chars)
    assert text.startswith(head) and len(head) <= chars
    assert len(tokenizer.encode_batch([head])[0]) <= len(tokenizer.encode_batch([text])[0])
