"""Bench runs in Plinth's database: config, raw per-request records, summary."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from plinth.bench.runner import PointResult
from plinth.store.schema import bench_requests, bench_runs


def new_run_id() -> str:
    return "bench_" + secrets.token_hex(8)


class BenchStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def start(self, run_id: str, name: str | None, config: dict[str, Any]) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                bench_runs.insert().values(
                    id=run_id,
                    name=name,
                    status="running",
                    config=json.dumps(config, ensure_ascii=False),
                    created_at=datetime.now(UTC),
                )
            )

    def finish(
        self,
        run_id: str,
        points: list[PointResult],
        summary: dict[str, Any] | None,
        status: str = "done",
    ) -> None:
        rows = [
            record.row() | {"run_id": run_id, "itl_s": json.dumps(record.itl_s)}
            for point in points
            for record in point.records
        ]
        with self._engine.begin() as conn:
            if rows:
                conn.execute(bench_requests.insert(), rows)
            conn.execute(
                bench_runs.update()
                .where(bench_runs.c.id == run_id)
                .values(
                    status=status,
                    summary=None if summary is None else json.dumps(summary, ensure_ascii=False),
                    finished_at=datetime.now(UTC),
                )
            )

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        counts = (
            select(bench_requests.c.run_id, func.count().label("requests"))
            .group_by(bench_requests.c.run_id)
            .subquery()
        )
        query = (
            select(bench_runs, func.coalesce(counts.c.requests, 0).label("requests"))
            .outerjoin(counts, counts.c.run_id == bench_runs.c.id)
            .order_by(bench_runs.c.created_at.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        out = []
        for row in rows:
            summary = json.loads(row["summary"]) if row["summary"] else {}
            out.append(
                {
                    "id": row["id"],
                    "name": row["name"],
                    "status": row["status"],
                    "created_at": _iso(row["created_at"]),
                    "requests": row["requests"],
                    "recommendation": summary.get("recommendation"),
                }
            )
        return out

    def get(self, run_id: str, *, with_records: bool = False) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = (
                conn.execute(select(bench_runs).where(bench_runs.c.id == run_id)).mappings().first()
            )
            if row is None:
                return None
            run = {
                "id": row["id"],
                "name": row["name"],
                "status": row["status"],
                "created_at": _iso(row["created_at"]),
                "finished_at": _iso(row["finished_at"]),
                "config": json.loads(row["config"]),
                "summary": json.loads(row["summary"]) if row["summary"] else None,
            }
            if with_records:
                query = (
                    select(bench_requests)
                    .where(bench_requests.c.run_id == run_id)
                    .order_by(bench_requests.c.id)
                )
                run["records"] = [
                    {k: v for k, v in r.items() if k not in ("id", "run_id")}
                    | {"itl_s": json.loads(r["itl_s"])}
                    for r in conn.execute(query).mappings()
                ]
        return run


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()
