"""Tokenizing a batch so that refusing a huge input costs bounded work.

Both bundled tokenizers (WordPiece and Unigram) share this: with a token
limit, a text far longer than the limit is first tokenized in its leading part
only; if that part alone is over the limit, its ids are enough to refuse the
text and the rest is never tokenized.
"""

from __future__ import annotations

from collections.abc import Callable

# Leading characters tokenized first, per token the caller allows: ordinary
# text of this length is several times over the limit (English is about 4-5
# characters per token), so only odd input (words of hundreds of letters,
# long runs of spaces) is tokenized in full.
HEAD_CHARS_PER_TOKEN = 16


def encode_bounded(
    texts: list[str],
    stop_over: int | None,
    encode: Callable[[list[str]], list[list[int]]],
    head: Callable[[str, int], str],
) -> list[list[int]]:
    """Token ids per text, in order; ``head(text, chars)`` cuts a text's leading part."""
    ids: list[list[int] | None] = [None] * len(texts)
    if stop_over is not None:
        head_chars = stop_over * HEAD_CHARS_PER_TOKEN
        long = [i for i, text in enumerate(texts) if len(text) > head_chars]
        heads = encode([head(texts[i], head_chars) for i in long])
        for i, head_ids in zip(long, heads, strict=True):
            if len(head_ids) > stop_over:
                ids[i] = head_ids
    rest = [i for i, found in enumerate(ids) if found is None]
    for i, encoded in zip(rest, encode([texts[i] for i in rest]), strict=True):
        ids[i] = encoded
    return [found for found in ids if found is not None]
