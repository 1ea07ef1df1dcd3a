"""The idle lane's llama.cpp server, seen through the in-process server's calls.

:class:`RemoteServer` offers xllamacpp ``Server``'s ``handle_chat_completions``
and ``handle_completions`` (blocking, a chunk callback for streams), but sends
them over loopback to llama.cpp's own HTTP server in the lane's child. A
:class:`~plinth.engines.llamacpp.LlamaCppEngine` given one as its server
prepares every request exactly as the in-process engine does (sampling
defaults, tools, integer fitting), so a line's output is the same.

A transport failure (the child died or was stopped) raises :class:`LaneLost`:
not a ``RuntimeError``, which the engine would turn into the model's error,
and not a Plinth error, which would count against the deployment. The
runner puts the line back in the queue instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Json = dict[str, Any]
PATHS = {
    "handle_chat_completions": "/v1/chat/completions",
    "handle_completions": "/v1/completions",
}


class LaneLost(ConnectionError):
    """The lane's child process could not be reached: the line runs again elsewhere."""


class RemoteServer:
    def __init__(self, base_url: str, key: str):
        # No read timeout: a line at idle priority waits as long as interactive
        # traffic keeps the CPU; the child's death ends the call at once.
        self._client = httpx.Client(
            base_url=base_url,
            headers={"authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(None, connect=10.0),
        )

    def handle_chat_completions(
        self, body: Json, callback: Callable[[Json], bool] | None = None
    ) -> Json | None:
        return self._send(PATHS["handle_chat_completions"], body, callback)

    def handle_completions(
        self, body: Json, callback: Callable[[Json], bool] | None = None
    ) -> Json | None:
        return self._send(PATHS["handle_completions"], body, callback)

    def close(self) -> None:
        self._client.close()

    def _send(self, path: str, body: Json, callback: Callable[[Json], bool] | None) -> Json | None:
        try:
            if callback is None:
                return _json(self._client.post(path, json=body))
            with self._client.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    callback(_json(response))  # an error before any chunk, as in-process
                    return None
                for line in response.iter_lines():
                    chunk = _event(line)
                    if chunk is not None and callback(chunk):
                        break  # closing the response stops llama.cpp at its next token
            return None
        except httpx.TransportError as exc:
            raise LaneLost(f"the idle lane's llama.cpp server is gone: {exc}") from exc


def _json(response: httpx.Response) -> Json:
    try:
        result = response.json()
    except ValueError as exc:
        raise LaneLost(f"the idle lane answered {response.status_code} without JSON") from exc
    if not isinstance(result, dict):
        raise LaneLost("the idle lane answered with something other than an object")
    return result


def _event(line: str) -> Json | None:
    """One server-sent event's JSON (``data:`` or ``error:``); None for the rest."""
    name, _, data = line.partition(":")
    data = data.strip()
    if name not in ("data", "error") or not data or data == "[DONE]":
        return None
    chunk = json.loads(data)
    return chunk if isinstance(chunk, dict) else None
