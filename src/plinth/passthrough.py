"""The pass-through pipeline: rerank, audio, images and moderations, forwarded as sent.

The same steps as a chat request (``gateway.py``), minus the translation:
privacy screens the request's texts (and may keep it local, refuse it, or
send placeholders to a cloud deployment), billing reserves the worst case in
the endpoint's unit, the router plans among the deployments that declare the
endpoint, failed attempts fail over before anything reached the client, and
the request gets one ledger row with its units and cost.

A JSON answer is read whole (bounded), its placeholders restored and its
``model`` set back to the name the client sent; any other answer (speech
audio, a transcript as text) streams through as bytes.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from plinth.engines.base import FormPart, Inbound, Json, Outbound
from plinth.engines.upstream_http import parse_json_text
from plinth.errors import UpstreamBadResponse
from plinth.gateway import Gateway
from plinth.metering.accounting import Accounting
from plinth.privacy.redaction import Redactor
from plinth.protocol.passthrough import Endpoint, text_places, texts, units_at_most, units_used
from plinth.routing.state import DeploymentState
from plinth.tokens import Estimate

# The largest JSON answer read into memory (generated images come as base64).
MAX_JSON_ANSWER_BYTES = 64 * 1024 * 1024


@dataclass
class Forward:
    """One pass-through request: its endpoint, the client's model name and body."""

    endpoint: Endpoint
    model: str
    body: Json  # the JSON body, or a multipart upload's text fields
    upload: FormPart | None = None  # the uploaded file of a multipart request

    @property
    def upload_bytes(self) -> int:
        return len(self.upload.value) if self.upload is not None else 0

    def outbound(self, body: Json) -> Outbound:
        path = self.endpoint.upstream_path
        if self.upload is None:
            return Outbound(path, json=body)
        fields = [
            FormPart(name, _form_text(item))
            for name, value in body.items()
            for item in (value if isinstance(value, list) else [value])
        ]
        return Outbound(path, form=[*fields, self.upload])


@dataclass(frozen=True)
class Head:
    """The first item of a forwarded answer: a whole JSON answer, or the content
    type of the bytes that follow."""

    content_type: str
    json: Json | None = None


def _form_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _restore(value: Any, redactor: Redactor) -> Any:
    """Placeholders put back in every string of a JSON answer."""
    if isinstance(value, str):
        return redactor.restore(value)
    if isinstance(value, list):
        return [_restore(item, redactor) for item in value]
    if isinstance(value, dict):
        return {key: _restore(item, redactor) for key, item in value.items()}
    return value


async def _read_json(inbound: Inbound, where: str) -> Json:
    raw = bytearray()
    async for chunk in inbound.chunks:
        raw += chunk
        if len(raw) > MAX_JSON_ANSWER_BYTES:
            raise UpstreamBadResponse(f"Upstream {where} sent a JSON answer over 64 MiB")
    return parse_json_text(bytes(raw), where)


class PassThrough:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    def _body_for(self, acct: Accounting, request: Forward, state: DeploymentState) -> Json:
        """The body this deployment may see: with placeholders if policy redacts for it."""
        inspection = acct.privacy
        if not self.gateway._redacts(acct, state) or inspection is None:
            return request.body
        assert inspection.redacted_body is not None
        body = copy.deepcopy(request.body)
        redacted = inspection.redacted_body["input"]
        for (container, key), text in zip(
            text_places(request.endpoint.name, body), redacted, strict=True
        ):
            container[key] = text
        return body

    async def forward(self, acct: Accounting, request: Forward) -> AsyncIterator[Head | bytes]:
        """A :class:`Head`, then for a non-JSON answer its bytes; errors before the head
        are the request's status, after it they end the stream."""
        gw, endpoint = self.gateway, request.endpoint
        tenant_id = acct.principal.tenant_id if acct.principal else None
        async with gw._served(acct) as served:
            constraints = await gw._screen(acct, {"input": texts(endpoint.name, request.body)})
            acct.unit = endpoint.unit
            most = units_at_most(endpoint.name, request.body, request.upload_bytes)
            acct.reservation, acct.price = await gw.billing.reserve(
                acct.request_id,
                acct.principal,
                gw.router.resolve(request.model, tenant_id),
                0,
                0,
                units=(endpoint.unit, most),
            )
            plan = gw.router.plan(
                request.model,
                Estimate({}),
                localities=constraints.localities if constraints else None,
                why_restricted=constraints.reason if constraints else "",
                tenant_id=tenant_id,
                endpoint=endpoint.name,
            )

            async def call(state: DeploymentState) -> tuple[Inbound, Json | None]:
                inbound = await state.engine.forward(
                    request.outbound(self._body_for(acct, request, state))
                )
                if "json" not in inbound.content_type:
                    return inbound, None
                try:  # read inside the attempt: a garbled answer fails over
                    return inbound, await _read_json(inbound, f"deployment '{state.id}'")
                finally:
                    inbound.close()

            (inbound, answer), served.attempt = await gw._attempts(acct, plan, call)
            acct.first_token()
            acct.units, reported = units_used(
                endpoint.name, request.body, answer, request.upload_bytes
            )
            acct.usage_source = "upstream" if reported else "estimate"
            if answer is not None:
                yield Head(inbound.content_type, self._shape(acct, request, answer))
                return
            yield Head(inbound.content_type)
            try:
                async for chunk in inbound.chunks:
                    yield chunk
            finally:
                inbound.close()

    def _shape(self, acct: Accounting, request: Forward, answer: Json) -> Json:
        usage = answer.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            acct.take_usage(usage, "upstream")
        if acct.redacted and acct.privacy is not None and acct.privacy.redactor is not None:
            answer = _restore(answer, acct.privacy.redactor)
        if "model" in answer:
            answer["model"] = request.model  # the client's name, not the upstream's
        return answer
