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

import http.client
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

Json = dict[str, Any]
PATHS = {
    "handle_chat_completions": "/v1/chat/completions",
    "handle_completions": "/v1/completions",
}
CONNECT_TIMEOUT_S = 10.0


class LaneLost(ConnectionError):
    """The lane's child process could not be reached: the line runs again elsewhere."""


class RemoteServer:
    """Blocking calls from the engine's worker threads, one loopback connection each.

    The standard library's client is enough here (and keeps an HTTP client
    library out of the install): llama.cpp's server closes a streamed
    connection at its end anyway, and a fresh loopback connection costs tens
    of microseconds against a line's seconds.
    """

    def __init__(self, base_url: str, key: str):
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname or url.port is None:
            raise ValueError(f"the idle lane's URL must be http://host:port, not {base_url!r}")
        self._host, self._port = url.hostname, url.port
        self._headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}

    def handle_chat_completions(
        self, body: Json, callback: Callable[[Json], bool] | None = None
    ) -> Json | None:
        return self._send(PATHS["handle_chat_completions"], body, callback)

    def handle_completions(
        self, body: Json, callback: Callable[[Json], bool] | None = None
    ) -> Json | None:
        return self._send(PATHS["handle_completions"], body, callback)

    def close(self) -> None:
        """Nothing is held between calls."""

    def _send(self, path: str, body: Json, callback: Callable[[Json], bool] | None) -> Json | None:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=CONNECT_TIMEOUT_S)
        try:
            conn.connect()
            # No read timeout: a line at idle priority waits as long as interactive
            # traffic keeps the CPU; the child's death ends the call at once.
            assert conn.sock is not None
            conn.sock.settimeout(None)
            conn.request("POST", path, body=json.dumps(body).encode(), headers=self._headers)
            response = conn.getresponse()
            if callback is None:
                return _json(response.status, response.read())
            if response.status >= 400:
                callback(_json(response.status, response.read()))  # before any chunk, as in-process
                return None
            failed = False
            while line := response.readline():
                text = line.decode("utf-8", "replace")
                if text.startswith("data: [DONE]"):
                    return None
                chunk = _event(text)
                if chunk is not None and callback(chunk):
                    return None  # closing the connection stops llama.cpp at its next token
                failed = failed or text.startswith("error:")
            if failed:
                return None  # the error event was the stream's answer
            # The end of the body before [DONE]: the child died mid-stream (the
            # standard library reads a cut chunked body as a plain end).
            raise LaneLost("the idle lane's stream ended before [DONE]")
        except LaneLost:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise LaneLost(f"the idle lane's llama.cpp server is gone: {exc!r}") from exc
        finally:
            conn.close()


def _json(status: int, raw: bytes) -> Json:
    try:
        result = json.loads(raw)
    except ValueError as exc:
        raise LaneLost(f"the idle lane answered {status} without JSON") from exc
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
