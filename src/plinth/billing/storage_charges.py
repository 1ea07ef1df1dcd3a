"""What stored bytes cost: byte-seconds from the storage meter × the GB-month price.

The price is a price-book row of the pseudo-model ``storage:<kind>``
(``storage:vector_store``), versioned like any price. The invoice range is cut
where a new version takes effect; each part is one line whose cost is its
exact integer byte-seconds × the price per GB-month / ``GB_MONTH_BYTE_SECONDS``
(10^9 bytes × 30 days), rounded up to the micro-unit once per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from plinth.billing.money import per_gb_month
from plinth.billing.prices import Price, PriceBook, storage_model
from plinth.billing.storage import GB_MONTH_BYTE_SECONDS, StorageMeter


@dataclass(frozen=True)
class StorageLine:
    kind: str  # e.g. "vector_store"
    starts: str
    ends: str
    resources: int
    byte_seconds: int
    gb_months: str  # for reading; the cost is computed from byte_seconds
    price_id: int | None
    gb_month_micros: int
    cost_micros: int


def _price_parts(
    versions: list[Price], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, Price | None]]:
    """[start, end) cut where a price version takes effect, with the version in force."""
    parts: list[tuple[datetime, datetime, Price | None]] = []
    current = None
    cursor = start
    for version in versions:
        if version.effective_from <= start:
            current = version
        elif version.effective_from < end:
            parts.append((cursor, version.effective_from, current))
            cursor, current = version.effective_from, version
    parts.append((cursor, end, current))
    return [part for part in parts if part[0] < part[1]]


def storage_lines(
    meter: StorageMeter, prices: PriceBook, tenant_id: str, start: datetime, end: datetime
) -> list[StorageLine]:
    kinds = sorted({use.kind for use in meter.byte_seconds(start, end, tenant_id=tenant_id)})
    lines = []
    for kind in kinds:
        for part_start, part_end, price in _price_parts(
            prices.versions(storage_model(kind)), start, end
        ):
            uses = [
                use
                for use in meter.byte_seconds(part_start, part_end, tenant_id=tenant_id)
                if use.kind == kind
            ]
            byte_seconds = sum(use.byte_seconds for use in uses)
            if not byte_seconds:
                continue
            rate = price.storage_gb_month_micros if price is not None else 0
            gb_months = Decimal(byte_seconds) / GB_MONTH_BYTE_SECONDS
            lines.append(
                StorageLine(
                    kind=kind,
                    starts=part_start.isoformat(),
                    ends=part_end.isoformat(),
                    resources=len(uses),
                    byte_seconds=byte_seconds,
                    gb_months=str(gb_months.quantize(Decimal("0.000001"))),
                    price_id=price.id if price is not None else None,
                    gb_month_micros=rate,
                    cost_micros=per_gb_month(byte_seconds, rate, GB_MONTH_BYTE_SECONDS),
                )
            )
    return lines
