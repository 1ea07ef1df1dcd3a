"""Sampling defaults for local models, for what a request leaves unset.

llama.cpp's server applies no repetition penalty by default, and OpenAI's
API has no field for one. Small models decoding greedily (``temperature``
0, as benches and RAG clients send) then fall into loops: the bundled
SmolLM2-135M repeats a retrieved passage until the context is full. The
classic llama.cpp penalty (1.1 over the last 64 tokens) breaks such loops
while leaving a short answer copied from a source intact; a client that
sets ``repeat_penalty`` (llama.cpp's own field) or an OpenAI penalty keeps
its choice.

A request without a token limit would otherwise decode until the model's
end-of-turn token or the slot's context is full: a loop the penalty does not
break then holds a slot (and, on a CPU, the cores) for the whole context.
Such requests get ``llamacpp.default_max_tokens`` (512 unless configured;
0 keeps llama.cpp's unbounded default); a reply cut there ends with
``finish_reason`` ``length``, as with a client's own limit.
``benchmarks/results/rag_qa_sampling.md`` has the bench's ``rag_qa`` scores
with and without these defaults.
"""

from __future__ import annotations

from plinth.engines.base import Json

REPEAT_PENALTY = 1.1
REPEAT_LAST_N = 64
DEFAULT_MAX_TOKENS = 512

#: Fields with which a request takes repetition into its own hands.
_PENALTY_FIELDS = ("repeat_penalty", "frequency_penalty", "presence_penalty")
#: Fields with which a request sets its own output limit (llama.cpp reads all three).
_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens", "n_predict")


def with_sampling_defaults(body: Json, *, max_tokens: int = DEFAULT_MAX_TOKENS) -> Json:
    """``body`` with the repetition penalty added when it names none, and the output
    limit ``max_tokens`` (if positive) when it sets none."""
    added: Json = {}
    if all(body.get(name) is None for name in _PENALTY_FIELDS):
        added.update(repeat_penalty=REPEAT_PENALTY, repeat_last_n=REPEAT_LAST_N)
    if max_tokens > 0 and all(body.get(name) is None for name in _LIMIT_FIELDS):
        added["max_tokens"] = max_tokens
    return {**body, **added} if added else body
