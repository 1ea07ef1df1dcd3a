"""The playground's optional file_search: sources from chosen knowledge bases, cited as [n].

The last user message is searched (hybrid) in each chosen store the user may
see; the best chunks go to the model in a system message, numbered, and the
page shows them as citations. The sources travel through the gateway with the
rest of the request, so the privacy policy screens them too.
"""

from __future__ import annotations

from typing import Any

from plinth.console.knowledge import visible_store
from plinth.console.web import Ctx
from plinth.errors import InvalidRequest
from plinth.knowledge.index import SearchOptions
from plinth.protocol.chat import ChatCompletionRequest

MAX_STORES = 5
MAX_SOURCES = 5
INSTRUCTION = (
    "Answer from the numbered sources below when they are relevant, and cite each source "
    "you use as [n]. If they do not answer the question, say so.\n\n"
)


def _question(body: dict[str, Any]) -> str:
    users = [m for m in body["messages"] if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else ""


async def ground(
    ctx: Ctx, request: ChatCompletionRequest, store_ids: list[str]
) -> tuple[ChatCompletionRequest, list[dict[str, Any]]]:
    """The request with a sources message, and the citations to show; unchanged without stores."""
    chosen = list(dict.fromkeys(s for s in store_ids if s))
    if not chosen:
        return request, []
    if len(chosen) > MAX_STORES:
        raise InvalidRequest(f"Choose at most {MAX_STORES} knowledge bases", param="stores")
    body = request.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)
    question = _question(body)
    if not question.strip():
        return request, []
    assert ctx.svc.vector_stores is not None  # visible_store raised otherwise
    found = []
    for store_id in chosen:
        store = await visible_store(ctx, store_id)
        options = SearchOptions(max_num_results=MAX_SOURCES)
        for hit, filename in await ctx.svc.vector_stores.search(store, [question], options):
            found.append((hit, filename, store.name))
    found.sort(key=lambda item: -item[0].score)
    citations = [
        {
            "n": n,
            "filename": filename,
            "store": store_name,
            "chunk": hit.seq,
            "score": round(hit.score, 3),
            "text": hit.text[:300],
        }
        for n, (hit, filename, store_name) in enumerate(found[:MAX_SOURCES], 1)
    ]
    if not citations:
        return request, []
    sources = "\n\n".join(
        f"[{c['n']}] ({c['filename']}) {hit.text}"
        for c, (hit, _, _) in zip(citations, found, strict=False)
    )
    body["messages"] = [{"role": "system", "content": INSTRUCTION + sources}, *body["messages"]]
    return ChatCompletionRequest.model_validate(body), citations
