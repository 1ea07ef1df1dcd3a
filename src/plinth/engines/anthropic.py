"""Anthropic's Messages API behind the OpenAI chat interface.

Requests are translated by :mod:`plinth.engines.anthropic_request` and answers
by :mod:`plinth.engines.anthropic_answer` (tools, images, stop reasons, usage,
streaming events); this module only moves
them over HTTP with the shared upstream client, so timeouts, retries and
error mapping behave exactly as for OpenAI-compatible upstreams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from plinth.deployment import Deployment
from plinth.engines.anthropic_answer import StreamTranslator, from_messages_response
from plinth.engines.anthropic_request import to_messages_request
from plinth.engines.base import Engine, Json
from plinth.engines.openai_compat import auth_headers
from plinth.engines.upstream_http import UpstreamClient, parse_json_text

API_VERSION = "2023-06-01"


class AnthropicEngine(Engine):
    def __init__(self, deployment: Deployment):
        super().__init__(deployment.model, deployment.kind)
        self.deployment = deployment
        headers = {"anthropic-version": API_VERSION, **auth_headers(deployment)}
        if deployment.auth == "bearer" and deployment.api_key():
            # The Messages API takes its key as x-api-key whatever the deployment says.
            headers.pop("authorization", None)
            headers["x-api-key"] = deployment.api_key() or ""
        self.client = UpstreamClient(deployment, headers)

    async def start(self) -> None:
        """Connections open lazily, on the first request."""

    async def close(self) -> None:
        await self.client.close()

    async def chat(self, body: Json) -> Json:
        request = to_messages_request({**body, "stream": False}, self.deployment.target_model)
        request.pop("stream", None)
        answer = await self.client.post_json("/messages", request)
        return from_messages_response(answer, self.deployment.model)

    def chat_stream(self, body: Json) -> AsyncIterator[Json]:
        request = to_messages_request({**body, "stream": True}, self.deployment.target_model)
        request["stream"] = True
        return self._chunks(request)

    async def _chunks(self, request: Json) -> AsyncIterator[Json]:
        where = f"deployment '{self.deployment.id}'"
        translator = StreamTranslator(self.deployment.model)
        events = self.client.post_sse("/messages", request)
        try:
            async for event, data in events:
                for chunk in translator.feed(event, parse_json_text(data, where)):
                    yield chunk
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    # --- untranslated: an Anthropic Messages request from a client, sent as it is ---

    def _native(self, body: Json, *, stream: bool) -> Json:
        request = {**body, "model": self.deployment.target_model}
        if stream:
            request["stream"] = True
        else:
            request.pop("stream", None)
        return request

    async def messages(self, body: Json, headers: dict[str, str]) -> Json:
        """The upstream's own ``message`` for a client's Messages body (``headers``:
        the client's ``anthropic-version`` / ``anthropic-beta``)."""
        return await self.client.post_json("/messages", self._native(body, stream=False), headers)

    async def message_events(
        self, body: Json, headers: dict[str, str]
    ) -> AsyncIterator[tuple[str, Json]]:
        """The upstream's own event stream for a client's Messages body."""
        where = f"deployment '{self.deployment.id}'"
        events = self.client.post_sse("/messages", self._native(body, stream=True), headers)
        try:
            async for event, data in events:
                yield event, parse_json_text(data, where)
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def health(self) -> None:
        await self.client.get_ok("/models", timeout_s=min(5.0, self.deployment.total_timeout_s))

    def describe(self) -> Json:
        return {"kind": self.kind, "engine": "anthropic", "deployment": self.deployment.id}
