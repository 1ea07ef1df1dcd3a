"""Plinth: a self-hosted AI base service behind one OpenAI-compatible endpoint."""

__version__ = "0.1.0"
