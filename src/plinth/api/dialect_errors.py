"""Which error shape a path's clients parse, for errors the router answers (404, 405).

Routes of the foreign dialects render their own errors; this covers what
never reaches them: an unknown ``/api/…`` path, a GET on ``/v1/messages``.
"""

from __future__ import annotations

from plinth.api.anthropic_messages import anthropic_error
from plinth.api.dialect import Render
from plinth.api.ollama_models import ollama_error


def dialect_render(path: str) -> Render | None:
    """The dialect's renderer for ``path``; None for Plinth's own (OpenAI's) shape."""
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return anthropic_error
    if path.startswith("/api/"):
        return ollama_error
    return None
