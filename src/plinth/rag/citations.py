"""The model's ``[n]`` markers → clean text + ``file_citation`` annotations.

The rule, applied identically to whole answers and to streams:

- A marker is ``[n]``, ``[n, m]`` or ``【n】`` (full-width, as models answering
  in Chinese often write it) where every number names a source of the
  grounded prompt (1-based). ``[2023]`` with three sources is not a marker
  and stays in the text verbatim.
- A marker is removed from the text together with the spaces before it, and
  each source it names becomes ``{type: "file_citation", index, file_id,
  filename}`` where ``index`` is the character position in the clean text
  where the marker stood — OpenAI's meaning of ``index``: where to insert
  the citation. Two chunks of one file cited by one marker (or by adjacent
  markers) give one annotation.
- An answer that cites nothing gets no annotations: an annotation claims the
  model used a passage, and inventing one would be a false claim. The
  passages searched are still in the ``file_search_call`` item (with
  ``include=["file_search_call.results"]``).

Streams: text that might be the start of a marker (trailing spaces, ``[1``)
is held back until the next delta decides it, so a marker split across
deltas is still recognised and never reaches the client half-written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from plinth.vectorstores.retrieve import Source

_MARKER = re.compile(r"[ \t]*(?:\[(\d+(?:\s*,\s*\d+)*)\]|【(\d+(?:\s*[,，]\s*\d+)*)】)")
# A tail that a later delta may complete into a marker.
_MAYBE_MARKER = re.compile(r"[ \t]*(?:[\[【][\d\s,，]*)?\Z")
# Past this, a held-back tail cannot be a marker of any sane length: let it go.
_MAX_HELD = 40

Annotation = dict[str, Any]


class CitationParser:
    def __init__(self, sources: Sequence[Source]):
        self.sources = sources
        self._held = ""
        self._emitted = 0  # characters of clean text given out so far
        self._cited_here: set[str] = set()  # files annotated at the current position

    def feed(self, delta: str) -> tuple[str, list[Annotation]]:
        """Clean text that is now final, and the annotations found in it (in order)."""
        steps = self.steps(delta)
        return "".join(t for t, _ in steps), [a for _, found in steps for a in found]

    def steps(self, delta: str) -> list[tuple[str, list[Annotation]]]:
        """Like ``feed``, split where citations are: each text, then the annotations at its end.

        A stream sends each text as a delta and then its annotations, so an
        annotation's ``index`` is always the length of the text sent before it.
        """
        text = self._held + delta
        steps: list[tuple[str, list[Annotation]]] = []
        done = 0
        for match in _MARKER.finditer(text):
            numbers = [int(n) for n in re.split(r"[,，]", match.group(1) or match.group(2))]
            if not all(1 <= n <= len(self.sources) for n in numbers):
                continue  # not a citation: stays as text
            piece = self._advance(text[done : match.start()])
            found = []
            for number in numbers:
                source = self.sources[number - 1]
                if source.file_id not in self._cited_here:
                    self._cited_here.add(source.file_id)
                    found.append(self._annotation(source))
            steps.append((piece, found))
            done = match.end()
        rest = text[done:]
        tail = _MAYBE_MARKER.search(rest)
        cut = tail.start() if tail and len(rest) - tail.start() <= _MAX_HELD else len(rest)
        self._held = rest[cut:]
        steps.append((self._advance(rest[:cut]), []))
        return steps

    def finish(self) -> str:
        """What is still held back: at the end it is plain text."""
        text, self._held = self._held, ""
        return self._advance(text)

    def _advance(self, text: str) -> str:
        if text:
            self._emitted += len(text)
            self._cited_here.clear()  # a new position: the same file may be cited again
        return text

    def _annotation(self, source: Source) -> Annotation:
        return {
            "type": "file_citation",
            "index": self._emitted,
            "file_id": source.file_id,
            "filename": source.filename,
        }


def cite(text: str, sources: Sequence[Source]) -> tuple[str, list[Annotation]]:
    """A whole answer: clean text and its annotations."""
    parser = CitationParser(sources)
    clean, annotations = parser.feed(text)
    return clean + parser.finish(), annotations
