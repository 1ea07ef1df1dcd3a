"""Search several vector stores for one query and merge what they found (``file_search``).

Stores are looked up with the caller's visibility first, all of them before
any search runs: a store the key may not see is answered exactly like an
unknown one (no hint that it exists), and an expired one is refused as the
Vector Stores search endpoint refuses it. Each store is then searched through
:meth:`VectorStores.search`, the endpoint's own path. The hits are merged by
score, best first; the same chunk can live in two stores (one file added to
both): it is kept once, with its better score.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from plinth.errors import VectorStoreNotFound
from plinth.knowledge.filters import AttributeValue
from plinth.knowledge.index import Hit, SearchOptions
from plinth.vectorstores.catalog import StoreRow
from plinth.vectorstores.service import VectorStores


@dataclass(frozen=True)
class Source:
    """One retrieved chunk, as the prompt numbers it and the citations name it."""

    file_id: str
    filename: str
    text: str
    score: float
    attributes: dict[str, AttributeValue] = field(default_factory=dict)

    def as_result(self) -> dict[str, object]:
        """The item in ``file_search_call.results``."""
        return {
            "file_id": self.file_id,
            "filename": self.filename,
            "score": round(self.score, 6),
            "text": self.text,
            "attributes": self.attributes,
        }


async def retrieve(
    stores: VectorStores | None,
    key_id: str | None,
    store_ids: Sequence[str],
    query: str,
    options: SearchOptions,
    *,
    param: str = "tools[0]",
) -> list[Source]:
    """The best ``max_num_results`` chunks over all stores; client mistakes raise 400/404.

    ``key_id`` is the caller's key, or None for an admin (who sees every store);
    ``param`` names the tool in the request, for error messages.
    """
    unique_ids = list(dict.fromkeys(store_ids))
    if not unique_ids:
        return []
    where = f"{param}.vector_store_ids"
    if stores is None:  # an app assembled without the Vector Stores API has no stores
        raise VectorStoreNotFound(f"Vector store '{unique_ids[0]}' not found", param=where)
    # Every store is checked before any is searched: one bad id costs no search.
    rows = [
        stores.live(await stores.visible(s, key_id, param=where), param=where) for s in unique_ids
    ]
    found = await asyncio.gather(*(_search(stores, row, query, options, where) for row in rows))
    pairs = [pair for store_pairs in found for pair in store_pairs]
    # A file's name is the same in every store that holds it (its Files name at attach time).
    names = {hit.file_id: filename for hit, filename in pairs}
    hits = merge([hit for hit, _ in pairs], options.max_num_results)
    return [Source(h.file_id, names[h.file_id], h.text, h.score, dict(h.attributes)) for h in hits]


async def _search(
    stores: VectorStores, store: StoreRow, query: str, options: SearchOptions, where: str
) -> list[tuple[Hit, str]]:
    try:
        return await stores.search(store, [query], options)
    except VectorStoreNotFound:  # deleted between the lookup and the search: add which
        raise VectorStoreNotFound(f"Vector store '{store.id}' not found", param=where) from None


def merge(hits: list[Hit], limit: int) -> list[Hit]:
    """Best first, one copy of each (file, chunk text), at most ``limit``."""
    best: dict[tuple[str, str], Hit] = {}
    for hit in hits:
        key = (hit.file_id, hit.text)
        if key not in best or hit.score > best[key].score:
            best[key] = hit
    # Ties keep a stable order: file, then position in the file.
    ranked = sorted(best.values(), key=lambda h: (-h.score, h.file_id, h.seq))
    return ranked[:limit]
