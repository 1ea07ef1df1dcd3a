"""What one request used and how it ended: the ledger row, its attempts and audit.

The gateway fills an :class:`Accounting` as the request goes; ``close`` books
it exactly once — one ledger row (with the failed attempts and the privacy
decision beside it) and one set of metric observations — whatever way the
request ended.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from plinth.auth import Principal
from plinth.billing.meter import Reservation
from plinth.billing.prices import Price
from plinth.engines.base import Json
from plinth.errors import error_body
from plinth.metering.recorder import UsageRecorder
from plinth.metrics import Metrics
from plinth.privacy.guard import Inspection
from plinth.store.audit import AuditRecord
from plinth.store.usage import AttemptRecord, UsageRecord
from plinth.tokens import estimate_tokens


@dataclass
class Accounting:
    """What one request used and how it ended; ``close`` books it once."""

    request_id: str
    endpoint: str
    model: str
    principal: Principal | None
    stream: bool = False
    started: float = field(default_factory=time.perf_counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_source: str | None = None  # "engine", "upstream" or "estimate"
    finish_reason: str | None = None
    ttft_s: float | None = None
    deployment: str | None = None
    locality: str | None = None
    failed_attempts: list[AttemptRecord] = field(default_factory=list)
    privacy: Inspection | None = None
    redacted: bool = False  # the serving deployment got placeholders, not values
    reservation: Reservation | None = None
    price: Price | None = None
    cached_tokens: int = 0
    cost_micros: int = 0
    units: int = 0  # a pass-through request's billed quantity of ``unit``
    unit: str | None = None  # "audio_second", "character", "image", "search_unit"
    stored: asyncio.Future[None] | None = None  # resolves when the ledger row is committed
    closed: bool = False
    batch_id: str | None = None  # a Batch API line: ledger row names the batch, batch price
    withdrawn: bool = False  # a batch line stopped for interactive traffic: no ledger row
    cache_opt_in: str | None = None  # the request's x-plinth-cache header, if it sent one
    cache: str | None = None  # "hit" or "miss" when the response cache was asked
    ended: float | None = None  # perf_counter at the end: the charge and the ledger agree

    def latency_s(self) -> float:
        """Seconds from the start to the end of the request (fixed on first call)."""
        if self.ended is None:
            self.ended = time.perf_counter()
        return self.ended - self.started

    def compute_ms(self) -> int:
        """The serving time billed per second: the ledger row's ``latency_ms`` less its
        failed attempts' ``latency_ms``, rounded up to the whole millisecond.

        Computed from the values as the ledger stores them (rounded to the
        microsecond), so the charge can be re-derived from the ledger.
        """
        total_us = round(round(self.latency_s() * 1000, 3) * 1000)
        failed_us = sum(round(attempt.latency_ms * 1000) for attempt in self.failed_attempts)
        return max(0, -(-(total_us - failed_us) // 1000))

    def first_token(self, decode_s: float = 0.0) -> None:
        """Mark the first output; a whole (non-streamed) answer passes its decode time."""
        if self.ttft_s is None:
            self.ttft_s = max(0.0, time.perf_counter() - self.started - decode_s)

    def take_usage(self, usage: Json | None, source: str) -> None:
        if usage:
            self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            self.completion_tokens = int(usage.get("completion_tokens") or 0)
            details = usage.get("prompt_tokens_details") or {}
            self.cached_tokens = int(details.get("cached_tokens") or 0)
            self.usage_source = source

    def usage_json(self, reported: Json | None = None) -> Json:
        """The ``usage`` object the client gets: the counts booked, and the cached-token
        details the engine or upstream reported, if any."""
        usage: Json = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if reported and reported.get("prompt_tokens_details"):
            usage["prompt_tokens_details"] = reported["prompt_tokens_details"]
        return usage

    def charge(self, exc: BaseException | None) -> int:
        """The cost of this request: nothing if it failed before any output reached
        the client, else its counted tokens and its serving time at its price row."""
        if self.price is None or (exc is not None and self.ttft_s is None):
            return 0
        cost = self.price.cost(self.prompt_tokens, self.completion_tokens, self.cached_tokens)
        cost += self.price.unit_cost(self.unit, self.units)
        if self.price.compute_second_micros:
            cost += self.price.compute_cost(self.compute_ms())
        return self.price.batch_cost(cost) if self.batch_id else cost

    def take_timings(self, timings: Json | None) -> None:
        """llama.cpp's per-chunk counters: the usage of a stream cut short."""
        if timings:
            self.prompt_tokens = int(timings.get("prompt_n", 0)) + int(timings.get("cache_n", 0))
            self.completion_tokens = int(timings.get("predicted_n", 0))
            self.cached_tokens = int(timings.get("cache_n", 0))  # llama.cpp's prompt-cache reuse
            self.usage_source = "engine"

    def estimate(self, prompt_text: str, output_text: str) -> None:
        """No reported usage: count locally, and say so in the ledger."""
        if self.usage_source is None:
            self.prompt_tokens = estimate_tokens(prompt_text)
            self.completion_tokens = estimate_tokens(output_text)
            self.usage_source = "estimate"

    def close(
        self,
        recorder: UsageRecorder,
        metrics: Metrics,
        status: str,
        exc: BaseException | None = None,
        *,
        model_label: str,
    ) -> None:
        """Book the ledger row and observe the metrics (once)."""
        if self.book(recorder, status, exc):
            self.observe(metrics, status, model_label)

    def book(self, recorder: UsageRecorder, status: str, exc: BaseException | None = None) -> bool:
        """Write the ledger row (journaled at once; see ``stored``); False if the request
        was booked already. :meth:`observe` completes the close: a successful answer's
        metrics are observed after its bytes are written (``Gateway``), not before."""
        if self.closed:
            return False
        self.closed = True
        latency = self.latency_s()
        http_status, error_code = 200, None
        if exc is not None:
            http_status, body = error_body(exc)
            error_code = body["error"]["code"]
        now = datetime.now(UTC)
        key_id = self.principal.key_id if self.principal else None
        audit = None
        if self.privacy is not None:
            audit = AuditRecord(
                request_id=self.request_id,
                created_at=now,
                key_id=key_id,
                endpoint=self.endpoint,
                model=self.model[:200] or None,
                policy=self.privacy.policy,
                action=self.privacy.action,
                entities=self.privacy.counts,
                value_hashes=self.privacy.value_hashes,
                deployment=self.deployment,
                locality=self.locality,
                redacted=self.redacted,
            )
        self.stored = recorder.record(
            UsageRecord(
                request_id=self.request_id,
                created_at=now,
                key_id=key_id,
                endpoint=self.endpoint,
                model=self.model[:200] or None,
                status=status,
                http_status=http_status,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                latency_ms=round(latency * 1000, 3),
                ttft_ms=round(self.ttft_s * 1000, 3) if self.ttft_s is not None else None,
                finish_reason=self.finish_reason,
                error_code=error_code,
                stream=self.stream,
                deployment=self.deployment,
                usage_source=self.usage_source,
                attempts=len(self.failed_attempts) + (1 if self.deployment else 0),
                tenant_id=self.principal.tenant_id if self.principal else None,
                cost_micros=self.cost_micros,
                price_id=self.price.id if self.price is not None and self.cost_micros else None,
                batch_id=self.batch_id,
                cached_tokens=self.cached_tokens,
                units=self.units,
                unit=self.unit,
                failed_attempts=self.failed_attempts,
                audit=audit,
            )
        )
        return True

    def observe(self, metrics: Metrics, status: str, model_label: str) -> None:
        """The request's metric observations (after :meth:`book`, with its latency)."""
        series = _series(metrics, self.endpoint, model_label, status)
        series.requests.inc()
        series.latency.observe(self.latency_s())
        if self.ttft_s is not None:
            series.ttft.observe(self.ttft_s)
        series.prompt_tokens.inc(self.prompt_tokens)
        series.completion_tokens.inc(self.completion_tokens)


@dataclass(frozen=True)
class _Series:
    """The metric children one (endpoint, model label, status) observes into."""

    requests: Any
    latency: Any
    ttft: Any
    prompt_tokens: Any
    completion_tokens: Any


# prometheus_client's ``labels()`` hashes, validates and locks on every call (six
# calls a request were ~2 % of the gateway's CPU). Labels are a few served models
# times fixed endpoints and statuses, and Metrics never removes a child, so the
# children are looked up once per combination, per Metrics (each app has its own).
_SERIES: weakref.WeakKeyDictionary[Metrics, dict[tuple[str, str, str], _Series]] = (
    weakref.WeakKeyDictionary()
)


def _series(metrics: Metrics, endpoint: str, model_label: str, status: str) -> _Series:
    known = _SERIES.get(metrics)
    if known is None:
        known = _SERIES[metrics] = {}
    series = known.get((endpoint, model_label, status))
    if series is None:
        series = known[(endpoint, model_label, status)] = _Series(
            requests=metrics.requests.labels(endpoint, model_label, status),
            latency=metrics.latency.labels(endpoint, model_label, status),
            ttft=metrics.ttft.labels(endpoint, model_label),
            prompt_tokens=metrics.tokens.labels(model_label, "prompt"),
            completion_tokens=metrics.tokens.labels(model_label, "completion"),
        )
    return series
