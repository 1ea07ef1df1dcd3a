"""Sampling defaults for local models, for what a request leaves unset.

llama.cpp's server applies no repetition penalty by default, and OpenAI's
API has no field for one. Small models decoding greedily (``temperature``
0, as benches and RAG clients send) then fall into loops: the bundled
SmolLM2-135M repeats a retrieved passage until the context is full. The
classic llama.cpp penalty (1.1 over the last 64 tokens) breaks such loops
while leaving a short answer copied from a source intact; a client that
sets ``repeat_penalty`` (llama.cpp's own field) or an OpenAI penalty keeps
its choice. ``benchmarks/results/rag_qa_sampling.md`` has the bench's
``rag_qa`` scores before and after.
"""

from __future__ import annotations

from plinth.engines.base import Json

REPEAT_PENALTY = 1.1
REPEAT_LAST_N = 64

#: Fields with which a request takes repetition into its own hands.
_PENALTY_FIELDS = ("repeat_penalty", "frequency_penalty", "presence_penalty")


def with_sampling_defaults(body: Json) -> Json:
    """``body`` with the repetition penalty added when it names none."""
    if any(body.get(name) is not None for name in _PENALTY_FIELDS):
        return body
    return {**body, "repeat_penalty": REPEAT_PENALTY, "repeat_last_n": REPEAT_LAST_N}
