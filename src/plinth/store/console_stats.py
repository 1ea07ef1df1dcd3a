"""The dashboard's numbers: ledger totals, series and top lists for a filter.

Each question is answered from ``usage_rollup`` where the filter allows it (no
filter, or one tenant, model, deployment or key) for the whole hours (days for
keys) inside the time range, and from the ledger itself for the partial
buckets at both ends and for combined filters (which the ledger's per-column
indexes narrow to one tenant's, model's or key's rows). Both paths sum the
same columns, so the result is exact either way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from plinth.store.console_rollup import ALL_COLUMNS, BOUNDS_MS, BUCKETS, bucket_expr, ledger_sums
from plinth.store.schema import usage, usage_rollup

Sums = dict[str, float]
TOP_DIMS = {"tenant": "tenant_id", "key": "key_id", "model": "model", "deployment": "deployment"}


@dataclass(frozen=True)
class Filter:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    tenant_id: str | None = None
    key_id: str | None = None
    model: str | None = None
    deployment: str | None = None

    def dims(self) -> dict[str, str]:
        given = {
            "tenant": self.tenant_id,
            "key": self.key_id,
            "model": self.model,
            "deployment": self.deployment,
        }
        return {dim: value for dim, value in given.items() if value is not None}


def _floor(moment: datetime, width: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if width == "day" else moment


def _ceil(moment: datetime, width: str) -> datetime:
    floor = _floor(moment, width)
    if floor == moment:
        return floor
    return floor + (timedelta(days=1) if width == "day" else timedelta(hours=1))


def _label(moment: datetime, width: str) -> str:
    return moment.strftime("%Y-%m-%d" if width == "day" else "%Y-%m-%d %H")


def _parse_bucket(bucket: str) -> datetime:
    fmt = "%Y-%m-%d %H" if len(bucket) > 10 else "%Y-%m-%d"
    return datetime.strptime(bucket, fmt).replace(tzinfo=UTC)


def _add(into: Sums, row: Any) -> None:
    for name in ALL_COLUMNS:
        into[name] = into.get(name, 0) + float(row[name] or 0)


def _raw_where(query: Any, f: Filter, start: datetime, end: datetime) -> Any:
    query = query.where(usage.c.created_at >= start, usage.c.created_at < end)
    for dim, value in f.dims().items():
        query = query.where(usage.c[TOP_DIMS[dim]] == value)
    return query


class _Plan:
    """Which rollup rows and which ledger time slices answer a filter."""

    def __init__(self, f: Filter, *, group: str | None = None):
        dims = f.dims()
        self.f = f
        self.dim: str | None = None
        self.value = ""
        if group is None and len(dims) <= 1:
            self.dim, self.value = next(iter(dims.items()), ("all", ""))
        elif group is not None and not dims:
            self.dim = group
        width = "day" if self.dim == "key" else "hour"
        self.width = width
        first, last = _ceil(f.start, width), _floor(f.end, width)
        if self.dim is None or first >= last:
            self.dim, self.raw = None, [(f.start, f.end)]
            return
        self.first, self.last = first, last
        self.raw = [(a, b) for a, b in ((f.start, first), (last, f.end)) if a < b]

    def rollup(self, *columns: Any) -> Any:
        assert self.dim is not None
        sums = [func.sum(usage_rollup.c[c]).label(c) for c in ALL_COLUMNS]
        query = select(*columns, *sums).where(
            usage_rollup.c.dim == self.dim,
            usage_rollup.c.bucket >= _label(self.first, self.width),
            usage_rollup.c.bucket < _label(self.last, self.width),
        )
        if self.f.dims():
            query = query.where(usage_rollup.c.value == self.value)
        return query


def totals(engine: Engine, f: Filter) -> Sums:
    plan = _Plan(f)
    result: Sums = {}
    with engine.connect() as conn:
        if plan.dim is not None:
            for row in conn.execute(plan.rollup()).mappings():
                _add(result, row)
        for start, end in plan.raw:
            for row in conn.execute(_raw_where(select(*ledger_sums()), f, start, end)).mappings():
                _add(result, row)
    return result


def series(engine: Engine, f: Filter) -> tuple[str, dict[datetime, Sums]]:
    """Sums per UTC hour (or per UTC day when only a key's daily rollup answers)."""
    plan = _Plan(f)
    out: dict[datetime, Sums] = defaultdict(dict)
    with engine.connect() as conn:
        if plan.dim is not None:
            query = plan.rollup(usage_rollup.c.bucket).group_by(usage_rollup.c.bucket)
            for row in conn.execute(query).mappings():
                _add(out[_parse_bucket(row["bucket"])], row)
        _raw_series(conn, f, plan.raw, plan.width, out)
    return plan.width, dict(sorted(out.items()))


def _raw_series(
    conn: Connection,
    f: Filter,
    slices: list[tuple[datetime, datetime]],
    width: str,
    out: dict[datetime, Sums],
) -> None:
    bucket = bucket_expr(conn.dialect.name, width)
    for start, end in slices:
        query = _raw_where(select(bucket.label("bucket"), *ledger_sums()), f, start, end)
        for row in conn.execute(query.group_by(bucket)).mappings():
            _add(out[_parse_bucket(row["bucket"])], row)


def top(engine: Engine, f: Filter, dim: str, limit: int = 10) -> list[tuple[str | None, Sums]]:
    """The ``limit`` values of ``dim`` with the most requests, with their sums."""
    plan = _Plan(f, group=dim)
    merged: dict[str | None, Sums] = defaultdict(dict)
    column = usage.c[TOP_DIMS[dim]]
    with engine.connect() as conn:
        if plan.dim is not None:
            query = plan.rollup(usage_rollup.c.value).group_by(usage_rollup.c.value)
            for row in conn.execute(query).mappings():
                _add(merged[row["value"] or None], row)
        for start, end in plan.raw:
            query = _raw_where(select(column.label("value"), *ledger_sums()), f, start, end)
            for row in conn.execute(query.group_by(column)).mappings():
                _add(merged[row["value"] or None], row)
    ranked = sorted(merged.items(), key=lambda item: (-item[1]["requests"], str(item[0])))
    return ranked[:limit]


def percentile(sums: Sums, prefix: str, q: float) -> float | None:
    """The q-quantile of a histogram (``lat`` or ``ttft``), interpolated in its bucket."""
    counts = [sums.get(f"{prefix}_{i}", 0.0) for i in range(BUCKETS)]
    total = sum(counts)
    if total <= 0:
        return None
    target, seen = q * total, 0.0
    for i, count in enumerate(counts):
        if count and seen + count >= target:
            low = 0.0 if i == 0 else BOUNDS_MS[i - 1]
            if i == len(BOUNDS_MS):
                return low
            return low + (BOUNDS_MS[i] - low) * (target - seen) / count
        seen += count
    return BOUNDS_MS[-1]


def metrics(sums: Sums) -> dict[str, float | None]:
    requests = sums.get("requests", 0.0)
    ttft_count = sums.get("ttft_count", 0.0)
    return {
        "requests": requests,
        "errors": sums.get("errors", 0.0),
        "error_rate": sums.get("errors", 0.0) / requests if requests else None,
        "prompt_tokens": sums.get("prompt_tokens", 0.0),
        "completion_tokens": sums.get("completion_tokens", 0.0),
        "cost_micros": sums.get("cost_micros", 0.0),
        "avg_latency_ms": sums.get("latency_sum", 0.0) / requests if requests else None,
        "p50_ms": percentile(sums, "lat", 0.5),
        "p95_ms": percentile(sums, "lat", 0.95),
        "ttft_avg_ms": sums.get("ttft_sum", 0.0) / ttft_count if ttft_count else None,
        "ttft_p50_ms": percentile(sums, "ttft", 0.5),
    }
