"""The grounded prompt: numbered sources, an instruction to cite them, the question.

The sources go into the last user turn rather than a system message of their
own: every chat template accepts a user turn, while some refuse a system
message anywhere but first, and small models follow context placed next to
the question best. Sources are numbered from 1 in rank order; the model is
asked to cite them as ``[n]``, which ``citations`` maps back to files.
"""

from __future__ import annotations

from collections.abc import Sequence

from plinth.vectorstores.retrieve import Source

#: Short and concrete, because small local models follow little more: a brief
#: answer (long ones drift into copying the sources), the citation form, and
#: what to do when the sources do not answer.
CITE_INSTRUCTION = (
    "Answer the question in one or two short sentences, using only the numbered "
    "sources below. Cite each source you used by its number in square brackets, "
    "for example [1]. If the sources do not contain the answer, say that you do not know."
)
#: Output tokens for a grounded answer whose request sets no limit: enough for
#: a cited paragraph, and a bound on a model that starts repeating its sources
#: (without it a local model writes until its context is full).
DEFAULT_MAX_TOKENS = 512
NO_SOURCES = (
    "A search of the knowledge base found nothing relevant to the question. "
    "Say so, then answer only if you are sure."
)


def sources_block(sources: Sequence[Source]) -> str:
    if not sources:
        return NO_SOURCES
    numbered = [f"[{n}] {s.filename}\n{s.text.strip()}" for n, s in enumerate(sources, 1)]
    return CITE_INSTRUCTION + "\n\nSources:\n\n" + "\n\n".join(numbered)


def grounded_messages(
    messages: Sequence[dict[str, str]], sources: Sequence[Source]
) -> list[dict[str, str]]:
    """``messages`` with the sources and the instruction put into the last user turn."""
    out = [dict(m) for m in messages]
    asked = _question_index(out)
    if asked is None:
        raise ValueError("no user turn to ground")
    question = out[asked]["content"]
    out[asked]["content"] = f"{sources_block(sources)}\n\nQuestion: {question}"
    return out


def search_query(messages: Sequence[dict[str, str]]) -> str | None:
    """What file_search looks for: the text of the last user turn (None if there is none)."""
    asked = _question_index(messages)
    return None if asked is None else messages[asked]["content"]


def _question_index(messages: Sequence[dict[str, str]]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user" and messages[index]["content"].strip():
            return index
    return None
