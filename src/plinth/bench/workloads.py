"""Task sets: the built-in ones shipped in ``bench/data`` and user JSONL files.

One item per line: ``{"id", "prompt", "reference"?, "scorer", "schema"?}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from plinth.bench.scorers import SCORERS

BUILTIN = {
    "short_chat": "Short chat: one-sentence answers, scored as non-empty replies.",
    "closed_qa": "Closed-book QA with reference answers: exact match and token F1.",
    "json_extraction": "JSON extraction against a schema: validity and field accuracy.",
    "chinese_qa": "Chinese QA with reference answers: exact match and character F1.",
    "long_summary": "Article summaries (~150–200 words in): recall of the key phrases.",
    "long_digest": "Long-context summary: eight articles (~1,150 words, ~1,500 tokens) "
    "digested one sentence each: recall of every article's key phrases.",
    "rag_qa": "RAG QA: questions answered from passages retrieved from a Plinth vector store.",
}
# Workloads grounded in a document corpus (``bench/rag.py`` puts it into a vector store).
CORPORA = {"rag_qa": "rag_qa_corpus.jsonl"}


@dataclass(frozen=True)
class Item:
    id: str
    prompt: str
    scorer: str
    reference: Any = None
    schema: dict[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class Workload:
    name: str
    items: list[Item]
    corpus: str | None = None  # a corpus file in bench/data: prompts are grounded first


def parse_items(lines: list[str], source: str) -> list[Item]:
    items: list[Item] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            item = Item(
                id=str(raw.get("id", f"{number}")),
                prompt=str(raw["prompt"]),
                scorer=str(raw.get("scorer", "nonempty")),
                reference=raw.get("reference"),
                schema=raw.get("schema"),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{source}:{number}: not a task item ({exc})") from None
        if item.scorer not in SCORERS:
            raise ValueError(f"{source}:{number}: unknown scorer '{item.scorer}'")
        items.append(item)
    if not items:
        raise ValueError(f"{source}: no items")
    return items


def load_workload(name: str) -> Workload:
    """A built-in task set by name, or a user JSONL file by path."""
    if name in BUILTIN:
        text = files("plinth.bench").joinpath("data", f"{name}.jsonl").read_text("utf-8")
        return Workload(name, parse_items(text.splitlines(), name), CORPORA.get(name))
    path = Path(name)
    if not path.is_file():
        known = ", ".join(sorted(BUILTIN))
        raise ValueError(f"no workload '{name}' (built-in: {known}; or a JSONL file path)")
    return Workload(path.stem, parse_items(path.read_text("utf-8").splitlines(), str(path)))
