"""Search several vector stores for one query and merge what they found.

Each store is searched on its own (concurrently); the hits are merged by
score, best first. The same chunk can live in two stores (one file added to
both): it is kept once, with its better score. Filenames come from the Files
table, looked up once per distinct file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from plinth.errors import InvalidRequest, NotFound
from plinth.knowledge.filters import AttributeValue, FilterError
from plinth.knowledge.index import Hit, StoreNotFound
from plinth.knowledge.service import KnowledgeBase

# file ids -> filenames, for the ids it knows (synchronous: runs on a worker thread).
FilenameLookup = Callable[[Sequence[str]], Mapping[str, str]]


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
    kb: KnowledgeBase,
    filenames: FilenameLookup,
    store_ids: Sequence[str],
    query: str,
    options: SearchOptions,
) -> list[Source]:
    """The best ``max_num_results`` chunks over all stores; client mistakes raise 400/404."""
    unique_ids = list(dict.fromkeys(store_ids))
    found = await asyncio.gather(*(_search(kb, s, query, options) for s in unique_ids))
    hits = merge([hit for store_hits in found for hit in store_hits], options.max_num_results)
    names = await asyncio.to_thread(filenames, list(dict.fromkeys(h.file_id for h in hits)))
    return [
        Source(h.file_id, names.get(h.file_id, h.file_id), h.text, h.score, dict(h.attributes))
        for h in hits
    ]


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


async def _search(
    kb: KnowledgeBase, store_id: str, query: str, options: SearchOptions
) -> list[Hit]:
    try:
        return await kb.search(
            store_id,
            query,
            max_num_results=options.max_num_results,
            filters=options.filters,
            score_threshold=options.score_threshold,
            lexical_weight=options.lexical_weight,
            dense_weight=options.dense_weight,
        )
    except StoreNotFound:
        raise NotFound(
            f"Vector store '{store_id}' not found",
            param=f"{options.param}.vector_store_ids",
            code="vector_store_not_found",
        ) from None
    except FilterError as exc:
        raise InvalidRequest(f"Invalid filters: {exc}", param=f"{options.param}.filters") from None
    except ValueError as exc:
        # The knowledge base's range check (the request model checks it first).
        if "max_num_results" not in str(exc):
            raise
        raise InvalidRequest(str(exc), param=f"{options.param}.max_num_results") from None
