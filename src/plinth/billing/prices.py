"""The price book: versioned prices per public model, and what a request costs.

Rows are only ever added; the row in force for a model at a time is the one
with the latest ``effective_from`` not after it. Every ledger row stores its
cost and the id of the row it was priced with, so a later price change never
rewrites history. A model with no row costs nothing.

Besides tokens and requests a row may price compute seconds (the serving
attempt's duration, see :meth:`Price.compute_cost`). Storage is priced on
pseudo-model rows named ``storage:<kind>`` (``storage:vector_store``) whose
only price is ``storage_gb_month_micros``.

Pass-through endpoints are billed in their own units (:data:`UNITS`): seconds
of audio transcribed or translated, characters of text (speech input,
moderation input, per 1,000), images generated, rerank search units.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from plinth.billing.money import per_mtok, per_second
from plinth.store.schema import prices

# A pass-through request's billing unit → the price-row field that prices it.
UNITS = {
    "audio_second": "audio_second_micros",
    "character": "kchar_micros",  # per 1,000 characters
    "image": "image_micros",
    "search_unit": "search_unit_micros",
}


@dataclass(frozen=True)
class Price:
    id: int
    model: str
    input_micros_per_mtok: int
    output_micros_per_mtok: int
    cached_input_micros_per_mtok: int
    request_micros: int
    effective_from: datetime
    compute_second_micros: int = 0
    storage_gb_month_micros: int = 0
    batch_discount_percent: int = 0  # off the cost of a Batch API line
    audio_second_micros: int = 0
    kchar_micros: int = 0
    image_micros: int = 0
    search_unit_micros: int = 0

    @property
    def free(self) -> bool:
        return not (
            self.input_micros_per_mtok
            or self.output_micros_per_mtok
            or self.cached_input_micros_per_mtok
            or self.request_micros
            or self.compute_second_micros
            or any(getattr(self, field) for field in UNITS.values())
        )

    def unit_cost(self, unit: str | None, units: int) -> int:
        """Micro-units for ``units`` of a pass-through ``unit`` (characters per 1,000,
        rounded up so a short text is never free while its price is not)."""
        if unit is None or units <= 0:
            return 0
        rate: int = getattr(self, UNITS[unit])
        if unit == "character":
            return -(-units * rate // 1000)
        return units * rate

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> int:
        """Micro-units for one request; cached prompt tokens at their own rate."""
        cached = min(cached_tokens, prompt_tokens)
        return (
            per_mtok(prompt_tokens - cached, self.input_micros_per_mtok)
            + per_mtok(cached, self.cached_input_micros_per_mtok)
            + per_mtok(completion_tokens, self.output_micros_per_mtok)
            + self.request_micros
        )

    def batch_cost(self, cost_micros: int) -> int:
        """A Batch API line's cost: ``cost_micros`` less the batch discount (the
        discount is rounded down, so the rounding never favours the payer twice)."""
        return cost_micros - cost_micros * self.batch_discount_percent // 100

    def compute_cost(self, milliseconds: int) -> int:
        """Micro-units for ``milliseconds`` of serving time at the per-second price."""
        return per_second(milliseconds, self.compute_second_micros)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "price",
            "model": self.model,
            "input_micros_per_mtok": self.input_micros_per_mtok,
            "output_micros_per_mtok": self.output_micros_per_mtok,
            "cached_input_micros_per_mtok": self.cached_input_micros_per_mtok,
            "request_micros": self.request_micros,
            "compute_second_micros": self.compute_second_micros,
            "storage_gb_month_micros": self.storage_gb_month_micros,
            "batch_discount_percent": self.batch_discount_percent,
            **{field: getattr(self, field) for field in UNITS.values()},
            "effective_from": self.effective_from.isoformat(),
        }


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class PriceBook:
    """All price rows, cached in memory and re-read at most every ``ttl_s`` seconds."""

    def __init__(self, engine: Engine, *, ttl_s: float = 5.0):
        self._engine = engine
        self._ttl_s = ttl_s
        self._rows: dict[str, list[Price]] = {}
        self._read_at = float("-inf")

    def add(
        self,
        model: str,
        *,
        input_micros_per_mtok: int = 0,
        output_micros_per_mtok: int = 0,
        cached_input_micros_per_mtok: int = 0,
        request_micros: int = 0,
        compute_second_micros: int = 0,
        storage_gb_month_micros: int = 0,
        batch_discount_percent: int = 0,
        effective_from: datetime | None = None,
        **unit_micros: int,
    ) -> Price:
        """Add a row; ``unit_micros`` are the per-unit fields of :data:`UNITS`."""
        unknown = set(unit_micros) - set(UNITS.values())
        if unknown:
            raise TypeError(f"unknown price fields: {', '.join(sorted(unknown))}")
        now = datetime.now(UTC)
        values = {
            "model": model,
            "input_micros_per_mtok": input_micros_per_mtok,
            "output_micros_per_mtok": output_micros_per_mtok,
            "cached_input_micros_per_mtok": cached_input_micros_per_mtok,
            "request_micros": request_micros,
            "compute_second_micros": compute_second_micros,
            "storage_gb_month_micros": storage_gb_month_micros,
            "batch_discount_percent": batch_discount_percent,
            **unit_micros,
            "effective_from": effective_from or now,
            "created_at": now,
        }
        with self._engine.begin() as conn:
            inserted = conn.execute(prices.insert().values(**values)).inserted_primary_key
            assert inserted is not None
            row_id = inserted[0]
        self._read_at = float("-inf")
        del values["created_at"]
        return Price(id=int(row_id), **values)  # type: ignore[arg-type]

    def all(self) -> list[Price]:
        self._refresh()
        return [p for rows in self._rows.values() for p in rows]

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._read_at >= self._ttl_s

    @property
    def read_once(self) -> bool:
        """Whether rows were read and not invalidated since (``add`` invalidates)."""
        return self._read_at > float("-inf")

    def cached_price_for(self, model: str, at: datetime | None = None) -> Price | None:
        """As :meth:`price_for`, from the rows last read, never reading the database."""
        when = at or datetime.now(UTC)
        current = None
        for price in self._rows.get(model, ()):
            if price.effective_from <= when:
                current = price
        return current

    def _refresh(self) -> None:
        if not self.stale:
            return
        with self._engine.connect() as conn:
            rows = conn.execute(select(prices).order_by(prices.c.effective_from)).mappings()
            table: dict[str, list[Price]] = {}
            for row in rows:
                values = {k: v for k, v in row.items() if k != "created_at"}
                values["effective_from"] = _aware(values["effective_from"])
                table.setdefault(row["model"], []).append(Price(**values))
        self._rows, self._read_at = table, time.monotonic()

    def versions(self, model: str) -> list[Price]:
        """Every row of ``model``, oldest ``effective_from`` first."""
        self._refresh()
        return list(self._rows.get(model, ()))

    def price_for(self, model: str, at: datetime | None = None) -> Price | None:
        self._refresh()
        return self.cached_price_for(model, at)


STORAGE_PREFIX = "storage:"


def storage_model(kind: str) -> str:
    """The pseudo-model that prices stored bytes of ``kind`` (e.g. ``vector_store``)."""
    return STORAGE_PREFIX + kind
