"""Run a bench: every candidate × workload × profile point, over the HTTP API."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from plinth.bench import profiles
from plinth.bench.client import Endpoint, RequestRecord, stream_chat
from plinth.bench.config import BenchConfig, Candidate, Judge
from plinth.bench.judge import grade
from plinth.bench.metrics import summarise
from plinth.bench.rag import ground
from plinth.bench.scorers import score
from plinth.bench.workloads import Item, Workload, load_workload


@dataclass
class PointResult:
    candidate: str
    workload: str
    kind: str  # "concurrency" | "rate"
    value: float
    records: list[RequestRecord] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.kind}={self.value:g}"


def endpoint_for(config: BenchConfig, candidate: Candidate | Judge) -> Endpoint:
    base_url = candidate.base_url or config.base_url
    api_key = candidate.api_key
    if api_key is None and candidate.api_key_env:
        api_key = os.environ.get(candidate.api_key_env)
    if api_key is None and candidate.base_url is None:
        api_key = config.api_key
    return Endpoint(base_url, api_key, candidate.model)


def _items_for(workload: Workload, count: int | None) -> list[Item]:
    if count is None:
        return list(workload.items)
    return list(itertools.islice(itertools.cycle(workload.items), count))


async def _point(
    session: aiohttp.ClientSession,
    config: BenchConfig,
    candidate: Candidate,
    workload: Workload,
    kind: str,
    value: float,
    run_start: float,
    tick: Callable[[], None],
) -> PointResult:
    point = PointResult(candidate.name, workload.name, kind, value)
    endpoint = endpoint_for(config, candidate)

    def job(item: Item) -> profiles.Job[RequestRecord]:
        async def send() -> RequestRecord:
            record = RequestRecord(
                candidate.name, workload.name, point.label, item.id, time.perf_counter() - run_start
            )
            await stream_chat(session, endpoint, item.prompt, record, max_tokens=config.max_tokens)
            if record.ok:
                record.score = score(item.scorer, record.text, item.reference, item.schema)
            tick()
            return record

        return send

    jobs = [job(item) for item in _items_for(workload, config.profile.requests)]
    started = time.perf_counter()
    if kind == "rate":
        point.records = await profiles.poisson(jobs, value, config.profile.seed)
    else:
        point.records = await profiles.at_concurrency(jobs, int(value))
    duration = time.perf_counter() - started
    if config.judge is not None:
        judge = endpoint_for(config, config.judge)
        by_id = {item.id: item for item in workload.items}
        for record in point.records:
            if record.ok:
                record.judge_score = await grade(session, judge, by_id[record.item_id], record.text)
    point.summary = summarise(point.records, duration, config.slo)
    return point


def total_requests(config: BenchConfig, workloads: list[Workload]) -> int:
    per_point = [config.profile.requests or len(w.items) for w in workloads]
    return len(config.candidates) * len(config.profile.points()) * sum(per_point)


async def run_points(config: BenchConfig, tick: Callable[[], None]) -> list[PointResult]:
    """Measure every point, one after another so candidates never compete for a machine."""
    workloads = [load_workload(name) for name in config.workloads]
    timeout = aiohttp.ClientTimeout(total=config.timeout_s)
    connector = aiohttp.TCPConnector(limit=0)
    run_start = time.perf_counter()
    results = []
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        workloads = [
            await ground(session, config.base_url, config.api_key, w) if w.corpus else w
            for w in workloads
        ]
        for candidate in config.candidates:
            for workload in workloads:
                for kind, value in config.profile.points():
                    results.append(
                        await _point(
                            session, config, candidate, workload, kind, value, run_start, tick
                        )
                    )
    return results


def run(config: BenchConfig, tick: Callable[[], None] = lambda: None) -> list[PointResult]:
    return asyncio.run(run_points(config, tick))
