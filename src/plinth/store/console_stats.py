"""The dashboard's numbers: ledger totals, series and top lists for a filter.

Each question is answered from ``usage_rollup`` where one of its dimensions
covers the filter's columns and the grouped column (the smallest such, hourly
before daily), for the whole buckets inside the time range; the partial
buckets at both ends, and questions no dimension covers, are read from the
ledger itself through its per-column indexes. Both paths sum the same
columns, so the result is exact either way.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select
from sqlalchemy.sql.elements import Label

from plinth.store.console_rollup import (
    ALL_COLUMNS,
    BOUNDS_MS,
    BUCKETS,
    DIMS,
    IMPLIES,
    SUMS,
    bucket_expr,
    ledger_sums,
)
from plinth.store.schema import api_keys, usage, usage_rollup

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
    # True when ``end`` is now: no ledger row is newer, so the bucket holding
    # ``end`` may be read whole from the rollup instead of its start from the ledger.
    open_end: bool = False

    def columns(self) -> dict[str, str]:
        """The ledger columns this filter fixes, with their values."""
        given = {
            "tenant_id": self.tenant_id,
            "key_id": self.key_id,
            "model": self.model,
            "deployment": self.deployment,
        }
        return {column: value for column, value in given.items() if value is not None}

    def only(self, columns: dict[str, str]) -> Filter:
        return Filter(self.start, self.end, open_end=self.open_end, **columns)


def _owners(conn: Connection, column: str) -> dict[str, str]:
    """What each key's tenant, or each deployment's model, is ("" for none).

    A deployment id that served more than one model (re-created) is left out,
    so nothing is reduced on its account.
    """
    if column == "key_id":
        rows = conn.execute(select(api_keys.c.id, api_keys.c.tenant_id))
        return {key: tenant or "" for key, tenant in rows}
    pairs = conn.execute(
        select(usage_rollup.c.value2, usage_rollup.c.value)
        .where(usage_rollup.c.dim == "model_deployment")
        .distinct()
    )
    owners: dict[str, str] = {}
    ambiguous: set[str] = set()
    for deployment, model in pairs:
        if owners.setdefault(deployment, model) != model:
            ambiguous.add(deployment)
    return {d: m for d, m in owners.items() if d not in ambiguous}


def _reduce(conn: Connection, columns: dict[str, str]) -> dict[str, str] | None:
    """The filter without columns another filter column implies; None if they contradict
    (a key of another tenant: nothing matches)."""
    columns = dict(columns)
    for column, implied in IMPLIES.items():
        if column in columns and implied in columns:
            owner = _owners(conn, column).get(columns[column])
            if owner is None:
                continue
            if owner != columns[implied]:
                return None
            del columns[implied]
    return columns


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


def _add(into: Sums, row: Any, names: tuple[str, ...] = ALL_COLUMNS) -> None:
    for name in names:
        into[name] = into.get(name, 0) + float(row[name] or 0)


def _choose(needed: set[str], width: str) -> str | None:
    """The rollup dimension of this bucket width with the fewest columns covering ``needed``."""
    fits = [
        (len(cols), dim)
        for dim, (cols, dim_width) in DIMS.items()
        if needed <= set(cols) and dim_width == width
    ]
    return min(fits)[1] if fits else None


Part = tuple[str, datetime, datetime]  # a rollup dimension and the [first, last) buckets read


class _Plan:
    """Which rollup rows and which ledger time slices answer a question.

    Whole days in the range come from a daily dimension, whole hours at its
    ends from an hourly one, and only the minutes at both ends (or questions
    no dimension covers) from the ledger.
    """

    def __init__(self, f: Filter, *, group: str | None = None, hourly_only: bool = False):
        self.f = f
        needed = set(f.columns()) | ({group} if group else set())
        self.parts: list[Part] = []
        slices = [(f.start, f.end)]
        for width in ("hour",) if hourly_only else ("day", "hour"):
            dim = _choose(needed, width)
            if dim is None:
                continue
            rest = []
            for a, b in slices:
                whole_end = f.open_end and b == f.end
                first, last = _ceil(a, width), (_ceil if whole_end else _floor)(b, width)
                if first >= last:
                    rest.append((a, b))
                    continue
                self.parts.append((dim, first, last))
                if a < first:
                    rest.append((a, first))
                if last < b:
                    rest.append((last, b))
            slices = rest
        self.raw = slices

    @staticmethod
    def slot(dim: str, column: str) -> Any:
        first = DIMS[dim][0].index(column) == 0
        return usage_rollup.c.value if first else usage_rollup.c.value2

    def rollup(self, part: Part, *columns: Any, names: tuple[str, ...] = ALL_COLUMNS) -> Any:
        dim, first, last = part
        width = DIMS[dim][1]
        query = select(*columns, *_rollup_sums(names)).where(
            usage_rollup.c.dim == dim,
            usage_rollup.c.bucket >= _label(first, width),
            usage_rollup.c.bucket < _label(last, width),
        )
        fixed = self.f.columns()
        for column, value in fixed.items():
            query = query.where(self.slot(dim, column) == value)
        # The primary key (dim, value, value2, bucket) is the rollup's only
        # index, and every lookup names it from the left, so the plan is one
        # seek per value whatever statistics the database has: SQLite has none
        # unless someone runs ANALYZE, and a second index on value2 made it
        # walk a whole dimension (no statistics) or most of the table (with).
        # Slots a dimension does not use hold ''.
        cols = DIMS[dim][0]
        if not cols:
            query = query.where(usage_rollup.c.value == "", usage_rollup.c.value2 == "")
        elif len(cols) == 1 and cols[0] in fixed:
            query = query.where(usage_rollup.c.value2 == "")
        if len(cols) == 2 and cols[0] not in fixed and cols[1] in fixed:
            # A filter on the pair's second column (a key's models): the first
            # column's values in the range come from its own daily rows, a few
            # thousand, and each is a seek.
            single = usage_rollup.alias("single")
            values = select(single.c.value).where(
                single.c.dim == _single(cols[0], width),
                single.c.value2 == "",
                single.c.bucket >= _label(first, width),
                single.c.bucket < _label(last, width),
            )
            query = query.where(usage_rollup.c.value.in_(values))
        return query


@functools.cache
def _rollup_sums(names: tuple[str, ...]) -> tuple[Label[Any], ...]:
    """``sum(column)`` per rollup column, built once (see ``ledger_sums``)."""
    return tuple(func.sum(usage_rollup.c[c]).label(c) for c in names)


def _single(column: str, width: str) -> str:
    """The dimension of one column alone at this bucket width."""
    return next(d for d, (cols, w) in DIMS.items() if cols == (column,) and w == width)


def _raw_where(query: Any, f: Filter, start: datetime, end: datetime) -> Any:
    conditions = [usage.c.created_at >= start, usage.c.created_at < end]
    conditions += [usage.c[column] == value for column, value in f.columns().items()]
    return query.where(and_(*conditions))


def _totals(conn: Connection, f: Filter) -> Sums:
    plan = _Plan(f)
    result: Sums = {}
    for part in plan.parts:
        for row in conn.execute(plan.rollup(part)).mappings():
            _add(result, row)
    for start, end in plan.raw:
        for row in conn.execute(_raw_where(select(*ledger_sums()), f, start, end)).mappings():
            _add(result, row)
    return result


def totals(engine: Engine, f: Filter) -> Sums:
    with engine.connect() as conn:
        reduced = _reduce(conn, f.columns())
        return {} if reduced is None else _totals(conn, f.only(reduced))


def series(engine: Engine, f: Filter, *, hourly: bool) -> dict[datetime, Sums]:
    """Sums per UTC bucket: hours when ``hourly`` (short ranges, zones other than UTC)
    and an hourly dimension covers the filter, else whole UTC days with hours at the
    range's ends."""
    out: dict[datetime, Sums] = defaultdict(dict)
    with engine.connect() as conn:
        reduced = _reduce(conn, f.columns())
        if reduced is None:
            return {}
        f = f.only(reduced)
        plan = _Plan(f, hourly_only=hourly)
        if hourly and not plan.parts and f.end - f.start > timedelta(days=2):
            plan = _Plan(f)  # no hourly rows for this combination: UTC days, not the ledger
        for part in plan.parts:
            query = plan.rollup(part, usage_rollup.c.bucket).group_by(usage_rollup.c.bucket)
            for row in conn.execute(query).mappings():
                _add(out[_parse_bucket(row["bucket"])], row)
        bucket = bucket_expr(conn.dialect.name, "hour")
        for start, end in plan.raw:
            query = _raw_where(select(bucket.label("bucket"), *ledger_sums()), f, start, end)
            for row in conn.execute(query.group_by(bucket)).mappings():
                _add(out[_parse_bucket(row["bucket"])], row)
    return dict(sorted(out.items()))


def top(engine: Engine, f: Filter, dim: str, limit: int = 10) -> list[tuple[str | None, Sums]]:
    """The ``limit`` values of ``dim`` with the most requests, with their plain sums."""
    column = TOP_DIMS[dim]
    with engine.connect() as conn:
        reduced = _reduce(conn, f.columns())
        if reduced is None:
            return []
        # Grouping by a column the filter fixes, or implies: one row, the filter's totals.
        single = reduced.get(column)
        for by, implied_by in IMPLIES.items():
            if implied_by == column and by in reduced and single is None:
                single = _owners(conn, by).get(reduced[by])
        if single is not None:
            sums = _totals(conn, f.only(reduced))
            return [(single or None, {k: sums[k] for k in SUMS})] if sums.get("requests") else []
        # Grouping by keys (or deployments) under a tenant (or model) filter: group
        # without it, then keep the keys of that tenant (the deployments of that model).
        implied = IMPLIES.get(column)
        if implied is not None and implied in reduced:
            owners, wanted = _owners(conn, column), reduced[implied]
            wider = {k: v for k, v in reduced.items() if k != implied}
            merged = _grouped(conn, f.only(wider), column)
            if all(v is not None and v in owners for v in merged):
                merged = {v: s for v, s in merged.items() if owners.get(v or "") == wanted}
            else:  # a value of unknown owner: group under the filter itself
                merged = _grouped(conn, f.only(reduced), column)
        else:
            merged = _grouped(conn, f.only(reduced), column)
    ranked = sorted(merged.items(), key=lambda item: (-item[1]["requests"], str(item[0])))
    return ranked[:limit]


def _grouped(conn: Connection, f: Filter, column: str) -> dict[str | None, Sums]:
    plan = _Plan(f, group=column)
    merged: dict[str | None, Sums] = defaultdict(dict)
    for part in plan.parts:
        slot = plan.slot(part[0], column)
        query = plan.rollup(part, slot.label("value"), names=SUMS).group_by(slot)
        for row in conn.execute(query).mappings():
            _add(merged[row["value"] or None], row, SUMS)
    light = [s for s in ledger_sums() if s.name in SUMS]
    for start, end in plan.raw:
        query = _raw_where(select(usage.c[column].label("value"), *light), f, start, end)
        for row in conn.execute(query.group_by(usage.c[column])).mappings():
            _add(merged[row["value"] or None], row, SUMS)
    return merged


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
        "cached_tokens": sums.get("cached_tokens", 0.0),
        "cost_micros": sums.get("cost_micros", 0.0),
        "avg_latency_ms": sums.get("latency_sum", 0.0) / requests if requests else None,
        "p50_ms": percentile(sums, "lat", 0.5),
        "p95_ms": percentile(sums, "lat", 0.95),
        "ttft_avg_ms": sums.get("ttft_sum", 0.0) / ttft_count if ttft_count else None,
        "ttft_p50_ms": percentile(sums, "ttft", 0.5),
    }
