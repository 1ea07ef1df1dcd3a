"""Invoices: a tenant's month, built from the ledger, plans, storage and the wallet.

An invoice is derived, never stored: per-model line items summed from the
ledger rows of the period (their stored costs, so later price changes do not
alter it), the plan periods' fees, included usage and overage (for a
subscribed tenant), storage charges, and the top-ups and credit changes of
the period (pay-as-you-go). The amount due is
fees + overage + pay-as-you-go usage + storage; the usage total always equals
the ledger's sum for the month. Rendering is in :mod:`invoice_render`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, func, select

from plinth.billing.money import from_micros
from plinth.billing.plan_usage import PlanLine, invoice_timezone, plan_lines
from plinth.billing.prices import PriceBook
from plinth.billing.storage import StorageMeter
from plinth.billing.storage_charges import StorageLine, storage_lines
from plinth.errors import InvalidRequest
from plinth.store.schema import usage, wallet_entries


@dataclass(frozen=True)
class Line:
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_micros: int
    units: int = 0  # pass-through requests: the billed quantity of ``unit``
    unit: str | None = None

    @property
    def quantity(self) -> str:
        """The units for a human ("12 audio_second"); empty for token-only lines."""
        return f"{self.units} {self.unit}" if self.unit else ""


@dataclass(frozen=True)
class WalletLine:
    created_at: str
    kind: str
    amount_micros: int
    note: str | None


@dataclass
class Invoice:
    tenant_id: str
    tenant_name: str
    period: str
    timezone: str
    starts: str
    ends: str
    lines: list[Line] = field(default_factory=list)
    wallet: list[WalletLine] = field(default_factory=list)
    plan: list[PlanLine] = field(default_factory=list)
    storage: list[StorageLine] = field(default_factory=list)

    @property
    def usage_micros(self) -> int:
        """Every ledger cost of the month, at the price book (plan or not)."""
        return sum(line.cost_micros for line in self.lines)

    @property
    def subscription_fee_micros(self) -> int:
        return sum(line.fee_micros for line in self.plan)

    @property
    def included_used_micros(self) -> int:
        return sum(line.included_used_micros for line in self.plan)

    @property
    def overage_micros(self) -> int:
        return sum(line.overage_micros for line in self.plan)

    @property
    def payg_usage_micros(self) -> int:
        """Usage outside any plan period: billed as it was priced."""
        return self.usage_micros - sum(line.usage_micros for line in self.plan)

    @property
    def storage_micros(self) -> int:
        return sum(line.cost_micros for line in self.storage)

    @property
    def total_due_micros(self) -> int:
        return (
            self.subscription_fee_micros
            + self.overage_micros
            + self.payg_usage_micros
            + self.storage_micros
        )

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["object"] = "invoice"
        for name in (
            "usage",
            "subscription_fee",
            "included_used",
            "overage",
            "payg_usage",
            "storage",
            "total_due",
        ):
            micros = getattr(self, f"{name}_micros")
            data[f"{name}_micros"] = micros
            data[name] = str(from_micros(micros))
        return data


def month_bounds(period: str, timezone: str) -> tuple[datetime, datetime]:
    try:
        year, month = (int(part) for part in period.split("-"))
        zone = ZoneInfo(timezone)
        start = datetime(year, month, 1, tzinfo=zone)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)
    except (ValueError, KeyError, ZoneInfoNotFoundError, OSError, OverflowError):
        # OSError: a zone name that is a folder ("America"); ValueError, OverflowError:
        # a year at the ends of the calendar.
        raise InvalidRequest(
            "period must be YYYY-MM (and the time zone valid)", param="period"
        ) from None


def build_invoice(
    engine: Engine, tenant_id: str, tenant_name: str, period: str, timezone: str | None = None
) -> Invoice:
    """The tenant's invoice for ``period`` (YYYY-MM) in ``timezone`` (default: its plan's)."""
    timezone = timezone or invoice_timezone(engine, tenant_id)
    start, end = month_bounds(period, timezone)
    in_period = (
        (usage.c.tenant_id == tenant_id)
        & (usage.c.created_at >= start)
        & (usage.c.created_at < end)
    )
    query = (
        select(
            usage.c.model,
            func.count().label("requests"),
            func.coalesce(func.sum(usage.c.prompt_tokens), 0),
            func.coalesce(func.sum(usage.c.completion_tokens), 0),
            func.coalesce(func.sum(usage.c.cost_micros), 0),
            func.coalesce(func.sum(usage.c.units), 0),
            usage.c.unit,
        )
        .where(in_period)
        .group_by(usage.c.model, usage.c.unit)
        .order_by(usage.c.model, usage.c.unit)
    )
    entries = (
        select(wallet_entries)
        .where(
            wallet_entries.c.tenant_id == tenant_id,
            wallet_entries.c.created_at >= start,
            wallet_entries.c.created_at < end,
        )
        .order_by(wallet_entries.c.id)
    )
    with engine.connect() as conn:
        lines = [
            Line(model or "(none)", int(n), int(p), int(c), int(cost), int(units), unit)
            for model, n, p, c, cost, units, unit in conn.execute(query)
        ]
        wallet = [
            WalletLine(
                row["created_at"].replace(tzinfo=row["created_at"].tzinfo or UTC).isoformat(),
                row["kind"],
                int(row["amount_micros"]),
                row["note"],
            )
            for row in conn.execute(entries).mappings()
        ]
    return Invoice(
        tenant_id,
        tenant_name,
        period,
        timezone,
        start.isoformat(),
        end.isoformat(),
        lines,
        wallet,
        plan=plan_lines(engine, tenant_id, start, end),
        storage=storage_lines(StorageMeter(engine), PriceBook(engine), tenant_id, start, end),
    )
