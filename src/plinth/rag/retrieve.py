"""Search several vector stores for one query and merge what they found.

Stores are looked up with the caller's visibility first, all of them before
any search runs: a store the key may not see is answered exactly like an
unknown one (no hint that it exists), and an expired one is refused as the
Vector Stores search endpoint refuses it. Each store is then searched through
:meth:`VectorStores.search` — the endpoint's own path, so a search here keeps
the store alive and names files from the store's own rows, skipping a file
removed meanwhile. The hits are merged by score, best first; the same chunk
can live in two stores (one file added to both): it is kept once, with its
better score.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from plinth.errors import InvalidRequest, NotFound
from plinth.knowledge import stores as kb_stores
from plinth.knowledge.filters import AttributeValue, FilterError
from plinth.knowledge.index import Hit, StoreNotFound
from plinth.knowledge.stores import VectorStores, now_s
from plinth.store.vector_stores import StoreRow


@dataclass(frozen=True)
class SearchOptions:
    max_num_results: int = 10
    filters: Mapping[str, object] | None = None
    score_threshold: float = 0.0
    lexical_weight: float = 1.0
    dense_weight: float = 1.0
    # Where these options came from in the request, for error messages.
    param: str = "tools[0]"


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
) -> list[Source]:
    """The best ``max_num_results`` chunks over all stores; client mistakes raise 400/404.

    ``key_id`` is the caller's key, or None for an admin (who sees every store).
    """
    unique_ids = list(dict.fromkeys(store_ids))
    if not unique_ids:
        return []
    if stores is None:  # an app assembled without the Vector Stores API has no stores
        raise _not_found(unique_ids[0], options)
    # Every store is checked before any is searched: one bad id costs no search.
    rows = [await _visible(stores, key_id, s, options) for s in unique_ids]
    found = await asyncio.gather(*(_search(stores, row, query, options) for row in rows))
    pairs = [pair for store_pairs in found for pair in store_pairs]
    # A file's name is the same in every store that holds it (its Files name at attach time).
    names = {hit.file_id: filename for hit, filename in pairs}
    hits = merge([hit for hit, _ in pairs], options.max_num_results)
    return [Source(h.file_id, names[h.file_id], h.text, h.score, dict(h.attributes)) for h in hits]


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


def _not_found(store_id: str, options: SearchOptions) -> NotFound:
    return NotFound(
        f"Vector store '{store_id}' not found",
        param=f"{options.param}.vector_store_ids",
        code="vector_store_not_found",
    )


async def _visible(
    stores: VectorStores, key_id: str | None, store_id: str, options: SearchOptions
) -> StoreRow:
    """The store if the caller may search it: the Vector Stores API's ownership rule."""
    row = await asyncio.to_thread(stores.catalog.get_store, store_id, key_id=key_id)
    if row is None:  # unknown and someone else's read the same: no existence leak
        raise _not_found(store_id, options)
    if row.expired(now_s()):
        raise InvalidRequest(
            f"Vector store '{store_id}' has expired",
            param=f"{options.param}.vector_store_ids",
            code="vector_store_expired",
        )
    return row


async def _search(
    stores: VectorStores, store: StoreRow, query: str, options: SearchOptions
) -> list[tuple[Hit, str]]:
    try:
        return await stores.search(
            store,
            [query],
            kb_stores.SearchOptions(
                max_num_results=options.max_num_results,
                filters=options.filters,
                score_threshold=options.score_threshold,
                lexical_weight=options.lexical_weight,
                dense_weight=options.dense_weight,
            ),
        )
    except StoreNotFound:  # deleted between the lookup and the search
        raise _not_found(store.id, options) from None
    except FilterError as exc:
        raise InvalidRequest(f"Invalid filters: {exc}", param=f"{options.param}.filters") from None
    except ValueError as exc:
        # The knowledge base's range check (the request model checks it first).
        if "max_num_results" not in str(exc):
            raise
        raise InvalidRequest(str(exc), param=f"{options.param}.max_num_results") from None
