"""The request pipeline: pick deployments, call them with retries, account for usage.

Every request, whatever way it ends, produces exactly one ledger row (plus one
row per failed attempt) and one set of metric observations, written by
:class:`Accounting` when it closes.

Retries (:meth:`Router.try_in_order`): an attempt that fails with an
:class:`UpstreamError` (unreachable, timeout, 429, 5xx, bad response) is
retried on the next deployment in the router's order — or the same one after a
backoff — up to ``routing.max_attempts``, but only while nothing has been sent
to the client.
Once a stream's first output chunk is on its way, a failure ends the stream
with an error frame; it is never retried, so no output is duplicated and
nothing is billed twice.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import numpy as np

from plinth.auth import Principal
from plinth.billing.guard import Billing
from plinth.cache.replay import stream_chunks
from plinth.cache.service import ResponseCache
from plinth.deployment import Locality
from plinth.engines.base import EmbeddingResult, Json
from plinth.engines.upstream_http import RawChunk
from plinth.errors import (
    InvalidRequest,
    PermissionDenied,
    PlinthError,
    UnsupportedParameter,
    error_body,
)
from plinth.metering.accounting import Accounting
from plinth.metering.recorder import UsageRecorder
from plinth.metrics import Metrics
from plinth.privacy.guard import PrivacyGuard
from plinth.privacy.redaction import restore_answer
from plinth.protocol.chat import ChatCompletionRequest
from plinth.protocol.completions import CompletionRequest
from plinth.protocol.embeddings import TOKEN_IDS_REFUSAL, EmbeddingRequest
from plinth.routing.router import Router
from plinth.routing.state import Attempt, DeploymentState
from plinth.store.usage import AttemptRecord
from plinth.streaming import StreamShaper, as_json, engine_stream, has_output, sse_batches
from plinth.tokens import (
    Estimate,
    request_text,
    response_text,
)

GenerationRequest = ChatCompletionRequest | CompletionRequest
# How long a response waits for its ledger row before going out anyway (the
# row stays queued and is retried; the wait is logged).
LEDGER_WAIT_S = 5.0
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Constraints:
    """Limits a policy puts on where a request may go."""

    localities: frozenset[Locality] | None = None
    reason: str = ""


def _source(state: DeploymentState) -> str:
    return "engine" if state.is_local else "upstream"


@dataclass
class _Served:
    """The attempt that serves a request; closed (the deployment freed) when it is done."""

    attempt: Attempt | None = None


class _Serving:
    """:meth:`Gateway._served`'s context. A class, not an ``@asynccontextmanager``:
    the generator behind one cost about 2 % of the CPU of a proxied request."""

    __slots__ = ("acct", "gateway", "in_flight", "interactive", "served")

    def __init__(self, gateway: Gateway, acct: Accounting):
        self.gateway, self.acct, self.served = gateway, acct, _Served()
        self.interactive = acct.batch_id is None
        label = (acct.endpoint, gateway._label(acct.model))
        in_flight = gateway._in_flight.get(label)
        if in_flight is None:  # labels() per request cost more than the gauge itself
            in_flight = gateway._in_flight[label] = gateway.metrics.in_flight.labels(*label)
        self.in_flight = in_flight

    async def __aenter__(self) -> _Served:
        gw = self.gateway
        self.in_flight.inc()
        gw.interactive_in_flight += self.interactive
        if self.interactive and gw.on_interactive is not None:
            gw.on_interactive()
        return self.served

    async def __aexit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        gw, acct = self.gateway, self.acct
        if exc is None:
            # Served: the ledger row is written now, before the answer's last bytes. The
            # rest of the close (metrics, the gauges, the deployment's count of calls in
            # progress, the billing settlement) waits for the loop's next turn: the
            # answer is written in this one, and at one request in flight every
            # microsecond spent before that write is latency the client sees.
            booked = False
            try:
                booked = gw._book(acct, "ok")
            finally:
                # The row's future knows the loop (get_running_loop is a getpid call in 3.11).
                stored = acct.stored
                loop = stored.get_loop() if stored is not None else asyncio.get_running_loop()
                loop.call_soon(self._after_ok, booked)
            await gw.wait_for_ledger_row(acct)
            return
        try:
            if isinstance(exc, Exception):
                gw._finish(acct, "error", exc)
            else:  # cancelled, or a stream closed by its client
                gw._finish(acct, "client_disconnected", None if acct.stream else exc)
        finally:
            self._release()

    def _after_ok(self, booked: bool) -> None:
        try:
            if booked:
                self.gateway._after(self.acct, "ok")
        finally:
            self._release()

    def _release(self) -> None:
        gw = self.gateway
        self.in_flight.dec()
        gw.interactive_in_flight -= self.interactive
        if self.interactive and not gw.interactive_in_flight:
            gw.interactive_idle_since = time.monotonic()
        if self.served.attempt is not None:
            self.served.attempt.close()


class Gateway:
    def __init__(
        self,
        router: Router,
        recorder: UsageRecorder,
        metrics: Metrics,
        privacy: PrivacyGuard,
        billing: Billing,
    ):
        self.router = router
        self.recorder = recorder
        self.metrics = metrics
        self.privacy = privacy
        self.billing = billing
        self._settling: set[asyncio.Task[None]] = set()
        # Requests in flight that are not Batch API lines: batches give way to them.
        self.interactive_in_flight = 0
        self.interactive_idle_since = 0.0  # monotonic time the last one ended
        # Called as an interactive request opens: the batch runner stops batch lines
        # running on in-process models, which would otherwise share the CPU with it.
        # Set only while such a line is in flight (None otherwise: nothing to call).
        self.on_interactive: Callable[[], None] | None = None
        self.cache: ResponseCache | None = None  # the response cache, if the app has one
        self._in_flight: dict[tuple[str, str], Any] = {}  # the gauge's children by labels

    def open(
        self, request_id: str, endpoint: str, model: str, principal: Principal | None
    ) -> Accounting:
        return Accounting(request_id, endpoint, model, principal)

    def _label(self, model: str) -> str:
        # Metric labels only name served models: arbitrary client strings would
        # grow the series without bound.
        return model if self.router.has(model) else "unknown"

    def _finish(self, acct: Accounting, status: str, exc: BaseException | None = None) -> None:
        if self._book(acct, status, exc):
            self._after(acct, status)

    def _book(self, acct: Accounting, status: str, exc: BaseException | None = None) -> bool:
        """Charge the request and write its ledger row; False if it was booked already.
        :meth:`_after` completes the close."""
        if acct.closed:
            return False
        if acct.withdrawn:  # a batch line stopped to run again later: booked by that run
            acct.closed, acct.cost_micros = True, 0
        else:
            acct.cost_micros = acct.charge(exc)
            acct.book(self.recorder, status, exc)
        return True

    def _after(self, acct: Accounting, status: str) -> None:
        """A booked request's metrics, and its reservation settled at its cost."""
        if not acct.withdrawn:
            acct.observe(self.metrics, status, self._label(acct.model))
        if acct.reservation is not None:
            tokens = 0 if acct.withdrawn else acct.prompt_tokens + acct.completion_tokens
            settle = self.billing.settle(acct.reservation, acct.cost_micros, tokens)
            try:
                task = asyncio.get_running_loop().create_task(settle)
            except RuntimeError:  # no loop (interpreter exit): the reservation expires
                settle.close()
                return
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    @staticmethod
    async def wait_for_ledger_row(acct: Accounting) -> None:
        """Wait until the request's ledger row is safe from a killed process (before its
        last byte): journaled, which it already is, or without a journal committed."""
        if acct.stored is None or acct.stored.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(acct.stored), LEDGER_WAIT_S)
        except TimeoutError:
            log.error("ledger row of %s not committed within %s s", acct.request_id, LEDGER_WAIT_S)

    async def drain(self) -> None:
        """Wait for pending settlements (shutdown)."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    async def _reserve(self, acct: Accounting, model: str, body: Json) -> None:
        """Hold the worst-case cost and the rate-limit slots; raises 402/429 if refused."""
        estimate = Estimate(body)
        limit = body.get("max_tokens")
        acct.reservation, acct.price = await self.billing.reserve(
            acct.request_id,
            acct.principal,
            self.router.resolve(model, _tenant(acct)),  # an alias costs what its target costs
            lambda: estimate.prompt_tokens,  # counted only if a limit applies
            int(limit) if isinstance(limit, int) else (0 if "input" in body else None),
        )

    def _cache_for(self, acct: Accounting) -> ResponseCache | None:
        """The response cache if this request may use it; None when neither its
        header nor the configuration opts it in, so it runs none of the cache's code."""
        cache = self.cache
        if cache is None or (acct.cache_opt_in is None and not cache.opted_in_by_config):
            return None
        return cache

    def fail(self, acct: Accounting, exc: BaseException, *, status: str = "error") -> None:
        """Book a request that failed before reaching the gateway (e.g. a bad body)."""
        self._finish(acct, status, exc)

    # --- attempts -----------------------------------------------------------------------

    async def _attempts(
        self,
        acct: Accounting,
        plan: list[DeploymentState],
        call: Callable[[DeploymentState], Awaitable[T]],
        *,
        max_attempts: int | None = None,
    ) -> tuple[T, Attempt]:
        """The router's attempts, each failed one booked in the request's accounting."""
        result, attempt = await self.router.try_in_order(
            plan,
            call,
            lambda failed, exc: self._record_attempt(acct, failed, exc),
            max_attempts=max_attempts,
        )
        state = attempt.state
        acct.deployment, acct.locality = state.id, state.deployment.locality
        acct.redacted = self._redacts(acct, state)
        return result, attempt

    def _record_attempt(self, acct: Accounting, attempt: Attempt, exc: PlinthError) -> None:
        state = attempt.state
        http_status, body = error_body(exc)
        acct.failed_attempts.append(
            AttemptRecord(
                request_id=acct.request_id,
                attempt=len(acct.failed_attempts) + 1,
                created_at=datetime.now(UTC),
                deployment=state.id,
                error_code=body["error"]["code"],
                http_status=http_status,
                message=exc.message[:500],
                latency_ms=attempt.latency_ms,
            )
        )
        self.metrics.upstream_failure(state.deployment.model, state.id, body["error"]["code"])

    # --- privacy ------------------------------------------------------------------------

    async def _screen(self, acct: Accounting, body: Json) -> Constraints | None:
        """Apply the key's privacy policy: block, restrict to local, or prepare redaction."""
        policy = acct.principal.privacy_policy if acct.principal else None
        key = acct.principal.key_id if acct.principal else None
        inspection = await self.privacy.inspect_async(body, policy, key)  # large: off the loop
        acct.privacy = inspection
        found = ", ".join(f"{n} × {e}" for e, n in inspection.counts.items())
        if inspection.action == "block":
            raise PermissionDenied(
                f"The request contains personal data or secrets ({found}); privacy policy "
                f"'{inspection.policy}' refuses such requests",
                code="sensitive_data_blocked",
            )
        if inspection.action == "local_only":
            return Constraints(
                frozenset({"local"}),
                reason=f"privacy policy '{inspection.policy}' (the request contains {found})",
            )
        return None

    @staticmethod
    def _redacts(acct: Accounting, state: DeploymentState) -> bool:
        inspection = acct.privacy
        return (
            inspection is not None
            and inspection.redacted_body is not None
            and state.deployment.locality == "cloud"
        )

    def _body_for(self, acct: Accounting, body: Json, state: DeploymentState) -> Json:
        """What this deployment may see: placeholders if it is in the cloud and policy says so."""
        if self._redacts(acct, state):
            assert acct.privacy is not None and acct.privacy.redacted_body is not None
            return acct.privacy.redacted_body
        return body

    def _plan(
        self, acct: Accounting, model: str, body: Json, constraints: Constraints | None
    ) -> list[DeploymentState]:
        return self.router.plan(
            model,
            Estimate(body),
            localities=constraints.localities if constraints else None,
            why_restricted=constraints.reason if constraints else "",
            tenant_id=_tenant(acct),
        )

    def _pinned_plan(
        self, acct: Accounting, model: str, constraints: Constraints | None, deployment_id: str
    ) -> list[DeploymentState]:
        """Only the named deployment, usable or not: an operator's test is a probe."""
        state = self.router.state(deployment_id)
        if state is None or state.deployment.model != self.router.resolve(model, _tenant(acct)):
            raise InvalidRequest(
                f"Deployment '{deployment_id}' does not serve model '{model}'", param="model"
            )
        localities = constraints.localities if constraints else None
        if localities is not None and state.deployment.locality not in localities:
            assert constraints is not None
            raise PermissionDenied(
                f"Deployment '{deployment_id}' is {state.deployment.locality}, and "
                f"{constraints.reason} allows only {' or '.join(sorted(localities))} processing",
                code="locality_not_available",
            )
        return [state]

    # --- endpoints ----------------------------------------------------------------------

    def _served(self, acct: Accounting) -> _Serving:
        """Book the request exactly once, however it ends, and free its deployment.

        The ``async with`` body serves the request and puts the successful
        attempt in ``served.attempt``. On the way out the attempt is closed,
        the in-flight gauge falls and the ledger row is written; a request that
        succeeded waits for that row's commit before its answer leaves.
        """
        return _Serving(self, acct)

    async def generate(
        self, acct: Accounting, request: GenerationRequest, *, deployment_id: str | None = None
    ) -> Json:
        """A non-streaming chat or text completion.

        ``deployment_id`` (the console's deployment test) sends it to that one
        deployment, once, past the response cache; privacy, budgets and the
        ledger row apply as to any request.
        """
        cache = self._cache_for(acct) if deployment_id is None else None
        async with self._served(acct) as served:
            body = request.engine_body()
            is_chat = isinstance(request, ChatCompletionRequest)
            constraints = await self._screen(acct, body)
            await self._reserve(acct, request.model, body)
            if cache is not None and (hit := await cache.lookup(acct, body)):
                return hit  # after the screen and the budgets: a refused key never gets here

            async def call(s: DeploymentState) -> Json:
                sent = self._body_for(acct, body, s)
                return await (s.engine.chat(sent) if is_chat else s.engine.complete(sent))

            if deployment_id is None:
                plan = self._plan(acct, request.model, body, constraints)
            else:
                plan = self._pinned_plan(acct, request.model, constraints, deployment_id)
            tries = None if deployment_id is None else 1
            result, served.attempt = await self._attempts(acct, plan, call, max_attempts=tries)
            state = served.attempt.state
            if acct.redacted and acct.privacy and acct.privacy.redactor:
                restore_answer(result, acct.privacy.redactor)
            acct.first_token(decode_s=_decode_seconds(result.pop("timings", None)))
            if acct.ttft_s is not None:
                state.observe_ttft(acct.ttft_s)
            acct.take_usage(result.get("usage"), _source(state))
            if acct.usage_source is None:  # no usage reported: only then are the texts read
                acct.estimate(request_text(body), response_text(result))
            choices = result.get("choices") or [{}]
            acct.finish_reason = choices[0].get("finish_reason")
            result["id"] = ("chatcmpl-" if is_chat else "cmpl-") + acct.request_id
            result["model"] = request.model
            result["usage"] = acct.usage_json(result.get("usage"))
        if cache is not None:
            await cache.store(acct, body, result)
        return result

    async def _open_stream(
        self, acct: Accounting, body: Json, is_chat: bool, plan: list[DeploymentState], raw: bool
    ) -> tuple[tuple[list[Json | RawChunk], AsyncIterator[Json | RawChunk]], Attempt]:
        """Start a stream on the first deployment that produces output.

        Chunks before the first output (a role-only delta) are held back, so a
        deployment that fails before saying anything can still be replaced.
        """

        async def call(
            s: DeploymentState,
        ) -> tuple[list[Json | RawChunk], AsyncIterator[Json | RawChunk]]:
            sent = self._body_for(acct, body, s)
            chunks: AsyncIterator[Json | RawChunk]
            if raw:
                chunks = engine_stream(s.engine, sent, is_chat=is_chat)
            else:
                chunks = s.engine.chat_stream(sent) if is_chat else s.engine.complete_stream(sent)
            held: list[Json | RawChunk] = []
            try:
                async for chunk in chunks:
                    held.append(chunk)
                    decoded = as_json(chunk)
                    if has_output(decoded) or decoded.get("usage"):
                        break
                    if any(c.get("finish_reason") for c in decoded.get("choices") or ()):
                        break
            except BaseException:
                await chunks.aclose()  # type: ignore[attr-defined]
                raise
            return held, chunks

        return await self._attempts(acct, plan, call)

    def generate_stream(self, acct: Accounting, request: GenerationRequest) -> AsyncIterator[Json]:
        """Chunks for the client; the usage chunk only if it asked for it."""
        return cast(AsyncIterator[Json], self._stream(acct, request, raw=False))

    def generate_sse(
        self, acct: Accounting, request: GenerationRequest
    ) -> AsyncIterator[Json | bytes]:
        """As :meth:`generate_stream`, for a route that sends OpenAI's own SSE: the
        stream's chunks come as SSE frames (bytes), several per item where they
        were read together; a response-cache hit still comes as dicts."""
        return self._stream(acct, request, raw=True)

    async def _stream(
        self, acct: Accounting, request: GenerationRequest, *, raw: bool
    ) -> AsyncIterator[Json | bytes]:
        acct.stream = True
        is_chat = isinstance(request, ChatCompletionRequest)
        cache = self._cache_for(acct)
        async with self._served(acct) as served:
            body = request.engine_body()
            constraints = await self._screen(acct, body)
            await self._reserve(acct, request.model, body)
            if cache is not None and (hit := await cache.lookup(acct, body)):
                for replayed in stream_chunks(
                    hit, is_chat=is_chat, include_usage=request.include_usage
                ):
                    yield replayed
                return
            plan = self._plan(acct, request.model, body, constraints)
            opened = await self._open_stream(acct, body, is_chat, plan, raw)
            (held, chunks), served.attempt = opened
            state = served.attempt.state
            shaper = StreamShaper(
                acct,
                model=request.model,
                include_usage=request.include_usage,
                state=state,
                is_chat=is_chat,
                usage_source=_source(state),
            )
            try:
                if raw:  # SSE frames, those read together in one write
                    async with aclosing(sse_batches(shaper, held, chunks)) as frames:
                        async for frame in frames:
                            yield frame
                else:
                    for chunk in held:
                        for piece in shaper.shape(chunk):
                            yield piece
                    async for chunk in chunks:
                        for piece in shaper.shape(chunk):
                            yield piece
                    for piece in shaper.leftovers():
                        yield piece
                if cache is not None:
                    await cache.store_stream(acct, body, is_chat, shaper.text())
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
                if acct.usage_source is None:  # no usage reported: only then are texts read
                    acct.estimate(request_text(body), shaper.text())

    async def embed(self, acct: Accounting, request: EmbeddingRequest) -> Json:
        async with self._served(acct) as served:
            inputs = request.input_list()
            texts: Json = {"input": inputs} if isinstance(inputs[0], str) else {}
            constraints = await self._screen(acct, texts)
            await self._reserve(acct, request.model, texts or {"input": []})

            async def call(s: DeploymentState) -> EmbeddingResult:
                return await s.engine.embed(self._body_for(acct, texts, s).get("input", inputs))

            plan = self._plan(acct, request.model, {}, constraints)
            # An upstream reads ids as its provider defines them; a local model
            # would read another tokenizer's ids as its own: refuse, don't guess.
            unsure = request.has_token_ids() and request.token_vocabulary is None
            if unsure and any(state.is_local for state in plan):
                raise InvalidRequest(
                    TOKEN_IDS_REFUSAL.format(model=request.model),
                    param="input",
                    code="token_ids_vocabulary",
                )
            result, served.attempt = await self._attempts(acct, plan, call)
            dims = len(result.vectors[0]) if result.vectors else 0
            if request.dimensions is not None and request.dimensions != dims:
                raise UnsupportedParameter(
                    f"Model '{request.model}' returns {dims} dimensions; "
                    "it cannot shorten its vectors",
                    param="dimensions",
                )
            acct.prompt_tokens = result.prompt_tokens
            acct.usage_source = _source(served.attempt.state)
            if not result.prompt_tokens and isinstance(inputs[0], str):
                acct.usage_source = None
                acct.estimate("\n".join(inputs), "")
            acct.first_token()
        encode = _base64_vector if request.encoding_format == "base64" else list
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode(vector)}
                for i, vector in enumerate(result.vectors)
            ],
            "model": request.model,
            "usage": {"prompt_tokens": acct.prompt_tokens, "total_tokens": acct.prompt_tokens},
        }


def _tenant(acct: Accounting) -> str | None:
    return acct.principal.tenant_id if acct.principal else None


def _decode_seconds(timings: Json | None) -> float:
    """Time spent generating after the first token, from llama.cpp's timings."""
    if not timings:
        return 0.0
    total_ms = float(timings.get("predicted_ms") or 0.0)
    per_token_ms = float(timings.get("predicted_per_token_ms") or 0.0)
    return max(0.0, total_ms - per_token_ms) / 1000


def _base64_vector(vector: list[float]) -> Any:
    # OpenAI's base64 format: little-endian float32, which the SDK decodes with numpy.
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
