"""Anthropic Messages requests to Anthropic deployments, untranslated.

When every deployment a ``/v1/messages`` request may use runs the
``anthropic`` engine, translating to a chat completion and back would only
lose what Anthropic offers beyond it (prompt-cache marks, betas, thinking,
``top_k``). This path sends the client's body as it came — after privacy
redaction of its texts (``system`` and every message's text, including text
blocks), with the upstream's model name and the client's ``anthropic-version``
/ ``anthropic-beta`` headers — and returns Anthropic's message or event stream
as it is, except: the message id is the request's, ``model`` the name the
client sent, and placeholders are restored in text (whole, or across deltas
in a stream). Budgets, routing, failover before the first output, the ledger
(usage from Anthropic's own counts) and the audit are the gateway's, as for
every request.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

from plinth.api.anthropic_inbound import message_id
from plinth.api.anthropic_stream import frame
from plinth.engines.anthropic import AnthropicEngine
from plinth.engines.anthropic_answer import openai_usage
from plinth.engines.base import Json
from plinth.errors import InvalidRequest, PlinthError, UpstreamError
from plinth.gateway import Gateway
from plinth.metering.accounting import Accounting
from plinth.privacy.redaction import Redactor, StreamRestorer
from plinth.protocol.anthropic import error_json
from plinth.routing.state import DeploymentState

Events = AsyncIterator[tuple[str, Json]]
ENGINE = "anthropic"


def _block_places(blocks: Any, places: list[tuple[Any, Any]]) -> None:
    """Text places in a content value: a string, text blocks, tool results' content,
    and every string inside a tool call's input."""
    if isinstance(blocks, list):
        for index, block in enumerate(blocks):
            if isinstance(block, str):
                places.append((blocks, index))
            elif isinstance(block, dict):
                _dict_places(block, places)


def _dict_places(block: Json, places: list[tuple[Any, Any]]) -> None:
    if isinstance(block.get("text"), str):
        places.append((block, "text"))
    content = block.get("content")
    if isinstance(content, str):
        places.append((block, "content"))
    else:
        _block_places(content, places)
    if isinstance(block.get("input"), dict):
        _all_strings(block["input"], places)


def _all_strings(container: Json | list[Any], places: list[tuple[Any, Any]]) -> None:
    """Every string at any depth of a tool call's input."""
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, value in items:
        if isinstance(value, str):
            places.append((container, key))
        elif isinstance(value, dict | list):
            _all_strings(value, places)


def text_places(body: Json) -> list[tuple[Any, Any]]:
    """Every text the body sends, as ``(container, key)`` places, in a fixed order:
    ``system``, then each message's content (text blocks, tool results, tool inputs)."""
    places: list[tuple[Any, Any]] = []
    if isinstance(body.get("system"), str):
        places.append((body, "system"))
    else:
        _block_places(body.get("system"), places)
    for message in body.get("messages") or ():
        if isinstance(message.get("content"), str):
            places.append((message, "content"))
        else:
            _block_places(message.get("content"), places)
    return places


def screened(body: Json) -> Json:
    """The texts privacy reads, as one list (its redacted copy maps back by position)."""
    return {"input": [container[key] for container, key in text_places(body)]}


def unscreened(body: Json, redacted: Json) -> Json:
    """A copy of ``body`` with the redacted texts of :func:`screened`'s redacted copy."""
    out = copy.deepcopy(body)
    for (container, key), text in zip(text_places(out), redacted["input"], strict=True):
        container[key] = text
    return out


def _restore_blocks(content: Any, redactor: Redactor) -> None:
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            block["text"] = redactor.restore(block["text"])


class NativeMessages:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    def applies(self, acct: Accounting, model: str) -> bool:
        tenant_id = acct.principal.tenant_id if acct.principal else None
        return self.gateway.router.engines_of(model, tenant_id) == {ENGINE}

    def _sent(self, acct: Accounting, body: Json, state: DeploymentState) -> Json:
        inspection = acct.privacy
        if self.gateway._redacts(acct, state) and inspection and inspection.redacted_body:
            return unscreened(body, inspection.redacted_body)
        return body

    async def _prepare(self, acct: Accounting, body: Json) -> list[DeploymentState]:
        gw = self.gateway
        texts = screened(body)
        constraints = await gw._screen(acct, texts)
        await gw._reserve(acct, body["model"], {**texts, "max_tokens": body["max_tokens"]})
        return gw._plan(
            acct, body["model"], {**texts, "max_tokens": body["max_tokens"]}, constraints
        )

    @staticmethod
    def _engine(state: DeploymentState) -> AnthropicEngine:
        if not isinstance(state.engine, AnthropicEngine):  # the plan changed under us
            raise InvalidRequest(f"Deployment '{state.id}' no longer runs the anthropic engine")
        return state.engine

    async def create(self, acct: Accounting, body: Json, headers: dict[str, str]) -> Json:
        gw = self.gateway
        async with gw._served(acct) as served:
            plan = await self._prepare(acct, body)

            async def call(state: DeploymentState) -> Json:
                return await self._engine(state).messages(self._sent(acct, body, state), headers)

            answer, served.attempt = await gw._attempts(acct, plan, call)
            acct.first_token()
            acct.take_usage(openai_usage(answer.get("usage") or {}), "upstream")
            acct.finish_reason = answer.get("stop_reason")
            if acct.redacted and acct.privacy and acct.privacy.redactor:
                _restore_blocks(answer.get("content"), acct.privacy.redactor)
            answer["id"] = message_id(acct.request_id)
            answer["model"] = body["model"]
        return answer

    async def stream(
        self, acct: Accounting, body: Json, headers: dict[str, str]
    ) -> AsyncIterator[bytes]:
        """Anthropic's events as SSE frames; the first comes only once output started
        (or the request failed, raised before any frame so it gets its status)."""
        gw = self.gateway
        acct.stream = True
        started = False
        try:
            async with gw._served(acct) as served:
                plan = await self._prepare(acct, body)

                held, events, served.attempt = await self._open(acct, body, headers, plan)
                acct.first_token()
                shaper = _EventShaper(acct, body["model"])
                try:
                    for event, data in held:
                        for shaped in shaper.shape(event, data):
                            yield frame(shaped)
                            started = True
                    async for event, data in events:
                        for shaped in shaper.shape(event, data):
                            yield frame(shaped)
                            started = True
                except PlinthError as exc:  # the status line is sent: an error event ends it
                    _, error = error_json(exc, acct.request_id)
                    yield frame(error)
                    raise  # so the ledger books the error
                finally:
                    await events.aclose()  # type: ignore[attr-defined]
        except PlinthError:
            if not started:
                raise  # before any frame: the route answers with the error's status

    async def _open(
        self, acct: Accounting, body: Json, headers: dict[str, str], plan: list[DeploymentState]
    ) -> tuple[list[tuple[str, Json]], Events, Any]:
        """Start the stream on the first deployment that produces output; events
        before it (message_start, a block's start) are held back, so a deployment
        that fails before saying anything can still be replaced."""

        async def call(state: DeploymentState) -> tuple[list[tuple[str, Json]], Events]:
            events = self._engine(state).message_events(self._sent(acct, body, state), headers)
            held: list[tuple[str, Json]] = []
            try:
                async for event, data in events:
                    held.append((event, data))
                    if event in ("content_block_delta", "message_stop", "error"):
                        break
            except BaseException:
                await events.aclose()  # type: ignore[attr-defined]
                raise
            return held, events

        (held, events), attempt = await self.gateway._attempts(acct, plan, call)
        return held, events, attempt


class _EventShaper:
    """Rewrites one stream's events: id and model, usage into the ledger, placeholders."""

    def __init__(self, acct: Accounting, model: str):
        self.acct, self.model = acct, model
        redactor = acct.privacy.redactor if acct.redacted and acct.privacy else None
        self.redactor = redactor
        self.restorers: dict[int, StreamRestorer] = {}
        self.usage: dict[str, Any] = {}

    def shape(self, event: str, data: Json) -> list[Json]:
        """The events to send for one upstream event (two when a held placeholder
        end must go out before a block closes)."""
        kind = data.get("type", event)
        if kind == "message_start" and isinstance(data.get("message"), dict):
            message = data["message"]
            message["id"], message["model"] = message_id(self.acct.request_id), self.model
            self._usage(message.get("usage"))
        elif kind == "message_delta":
            self._usage(data.get("usage"))
            self.acct.finish_reason = (data.get("delta") or {}).get("stop_reason")
        elif kind == "error":
            message = (data.get("error") or {}).get("message") or "no details"
            raise UpstreamError(f"Upstream failed mid-stream: {message}")
        elif self.redactor is not None:
            return self._restore(kind, data)
        return [{**data, "type": kind}]

    def _usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if v is not None})
            self.acct.take_usage(openai_usage(self.usage), "upstream")

    def _restore(self, kind: str, data: Json) -> list[Json]:
        assert self.redactor is not None
        index = int(data.get("index") or 0)
        delta = data.get("delta") or {}
        if kind == "content_block_delta" and isinstance(delta.get("text"), str):
            restorer = self.restorers.setdefault(index, StreamRestorer(self.redactor))
            delta["text"] = restorer.feed(delta["text"])
        elif kind == "content_block_stop" and index in self.restorers:
            # Text held back as a possible placeholder start goes out before the block ends.
            rest = self.restorers.pop(index).flush()
            if rest:
                tail = {"type": "text_delta", "text": rest}
                return [{"type": "content_block_delta", "index": index, "delta": tail}, data]
        return [{**data, "type": kind}]
