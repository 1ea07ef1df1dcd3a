"""Prometheus metrics, in a registry owned by one app (no process globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
        self.in_flight = Gauge(
            "plinth_requests_in_flight",
            "Requests being served now.",
            ["endpoint", "model"],
            registry=self.registry,
        )

        self.upstream_failures = Counter(
            "plinth_deployment_failures",
            "Failed attempts, by deployment and error code (each may have been retried).",
            ["deployment", "code"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
