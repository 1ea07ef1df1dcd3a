"""Wire shapes of the pass-through endpoints and what Plinth needs to know of them.

Plinth does not implement rerank, audio, images or moderation itself: it
forwards the client's body to a deployment that declares the endpoint. It
still validates the fields it acts on (the model, the texts privacy screens,
the quantities it bills) and lets every other field through unchanged, so an
upstream's extensions keep working.

Billing units (``billing.prices.UNITS``): rerank in search units (one per
query and up to 100 documents, Cohere's rule, unless the upstream reports its
own), speech and moderation in characters of input, images in images, audio
transcription and translation in seconds of audio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from plinth.deployment import PassthroughEndpoint

Json = dict[str, Any]
# The fewest bytes per second of audio a client plausibly uploads (16 kbit/s
# speech codecs): a file's size divided by it bounds its duration for the
# reservation, and estimates it when the upstream does not say.
AUDIO_BYTES_PER_SECOND = 2_000
_DOCS_PER_SEARCH_UNIT = 100


class _Open(BaseModel):
    """Fields Plinth acts on are checked; the rest goes to the upstream as sent."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200)


class RerankRequest(_Open):
    query: str = Field(max_length=1_000_000)
    documents: list[str | Json] = Field(min_length=1, max_length=10_000)
    top_n: int | None = Field(None, ge=1, le=10_000)


class SpeechRequest(_Open):
    input: str = Field(min_length=1, max_length=100_000)
    voice: str | Json | None = None


class ImageRequest(_Open):
    prompt: str = Field(min_length=1, max_length=100_000)
    n: int = Field(1, ge=1, le=10)


class ModerationRequest(_Open):
    model: str = Field("omni-moderation-latest", min_length=1, max_length=200)
    input: str | list[str] | list[Json]


class AudioForm(_Open):
    """The text fields of a transcription or translation upload (the file is apart)."""

    prompt: str | None = Field(None, max_length=100_000)
    language: str | None = Field(None, max_length=20)
    response_format: str | None = Field(None, max_length=20)


@dataclass(frozen=True)
class Endpoint:
    name: PassthroughEndpoint  # what a deployment lists in ``endpoints``
    path: str  # Plinth's route, and the upstream's below its base_url without "/v1"
    unit: str
    wire: type[_Open]
    multipart: bool = False

    @property
    def upstream_path(self) -> str:
        return self.path.removeprefix("/v1")


ENDPOINTS = {
    e.name: e
    for e in (
        Endpoint("rerank", "/v1/rerank", "search_unit", RerankRequest),
        Endpoint(
            "audio.transcriptions", "/v1/audio/transcriptions", "audio_second", AudioForm, True
        ),
        Endpoint("audio.translations", "/v1/audio/translations", "audio_second", AudioForm, True),
        Endpoint("audio.speech", "/v1/audio/speech", "character", SpeechRequest),
        Endpoint("images.generations", "/v1/images/generations", "image", ImageRequest),
        Endpoint("moderations", "/v1/moderations", "character", ModerationRequest),
    )
}


def text_places(name: str, body: Json) -> list[tuple[Any, Any]]:
    """Every text of ``body`` privacy screens, as ``(container, key)`` places in order."""
    places: list[tuple[Any, Any]] = []
    if name == "rerank":
        places.append((body, "query"))
        for index, doc in enumerate(body.get("documents") or ()):
            if isinstance(doc, str):
                places.append((body["documents"], index))
            elif isinstance(doc, dict) and isinstance(doc.get("text"), str):
                places.append((doc, "text"))
    elif name in ("audio.speech", "moderations"):
        value = body.get("input")
        if isinstance(value, str):
            places.append((body, "input"))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    places.append((value, index))
                elif isinstance(item, dict) and isinstance(item.get("text"), str):
                    places.append((item, "text"))
    elif isinstance(body.get("prompt"), str):  # images, audio uploads
        places.append((body, "prompt"))
    return places


def texts(name: str, body: Json) -> list[str]:
    return [container[key] for container, key in text_places(name, body)]


def units_at_most(name: str, body: Json, upload_bytes: int) -> int:
    """The most units the request can be billed (what the reservation holds)."""
    if name == "rerank":
        return math.ceil(len(body.get("documents") or ()) / _DOCS_PER_SEARCH_UNIT)
    if name == "images.generations":
        return int(body.get("n") or 1)
    if name in ("audio.transcriptions", "audio.translations"):
        return max(1, math.ceil(upload_bytes / AUDIO_BYTES_PER_SECOND))
    return sum(len(t) for t in texts(name, body))


def units_used(name: str, body: Json, answer: Json | None, upload_bytes: int) -> tuple[int, bool]:
    """The units to bill and whether they are exact: reported by the upstream, or
    counted from the request (characters, images asked); False for an audio
    duration estimated from the file's size."""
    if answer is not None:
        reported = _reported_units(name, answer)
        if reported is not None:
            return reported, True
    return units_at_most(name, body, upload_bytes), name not in (
        "audio.transcriptions",
        "audio.translations",
    )


def _reported_units(name: str, answer: Json) -> int | None:
    if name == "rerank":
        billed = (answer.get("meta") or {}).get("billed_units") or {}
        value = billed.get("search_units") if isinstance(billed, dict) else None
        return value if isinstance(value, int) and value >= 0 else None
    if name == "images.generations":
        data = answer.get("data")
        return len(data) if isinstance(data, list) else None
    if name in ("audio.transcriptions", "audio.translations"):
        usage = answer.get("usage")
        seconds = usage.get("seconds") if isinstance(usage, dict) else answer.get("duration")
        if isinstance(seconds, int | float) and seconds >= 0:
            return math.ceil(seconds)
    return None
