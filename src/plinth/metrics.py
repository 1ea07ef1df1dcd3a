"""Prometheus metrics, in a registry owned by one app (no process globals).

``/metrics`` is readable without a key, so its labels hold nothing an
operator or a client chose beyond served model ids: the endpoint, the public
model name (or ``unknown``), a fixed status, and for failed upstream attempts
an opaque deployment label (:func:`deployment_label`, a hash of the
deployment id, which would otherwise name the upstream host) and an error
code from Plinth's own list.
"""

from __future__ import annotations

import hashlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from plinth import errors

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "plinth_requests",
            "Requests finished, by endpoint, model and outcome status.",
            ["endpoint", "model", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "plinth_request_duration_seconds",
            "End-to-end request latency.",
            ["endpoint", "model", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "plinth_time_to_first_token_seconds",
            "Time from request arrival to the first generated token.",
            ["endpoint", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "plinth_tokens",
            "Tokens processed, by model and direction (prompt or completion).",
            ["model", "direction"],
            registry=self.registry,
        )
        self.ledger_dead_letters = Counter(
            "plinth_ledger_dead_letters",
            "Ledger rows the database refused, set aside in the dead-letter file.",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "plinth_requests_in_flight",
            "Requests being served now.",
            ["endpoint", "model"],
            registry=self.registry,
        )

        self.upstream_failures = Counter(
            "plinth_deployment_failures",
            "Failed attempts, by model, deployment (d-<sha256 of its id, 10 hex>) and error "
            "code (each may have been retried).",
            ["model", "deployment", "code"],
            registry=self.registry,
        )

    def upstream_failure(self, model: str, deployment_id: str, code: str | None) -> None:
        known = code if code in _KNOWN_CODES else "other"
        self.upstream_failures.labels(model, deployment_label(deployment_id), known).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def deployment_label(deployment_id: str) -> str:
    """An opaque, stable label for a deployment: ids default to '<model>@<upstream host>'
    and admins choose others; ``plinth deployments list`` shows the ids to match."""
    return "d-" + hashlib.sha256(deployment_id.encode("utf-8")).hexdigest()[:10]


def _codes() -> frozenset[str]:
    todo: list[type[errors.PlinthError]] = [errors.PlinthError]
    codes = {"error", "internal_error"}
    while todo:
        kind = todo.pop()
        todo.extend(kind.__subclasses__())
        if kind.default_code:
            codes.add(kind.default_code)
    return frozenset(codes)


#: Error codes Plinth itself defines; an upstream's own codes are counted as "other".
_KNOWN_CODES = _codes()
