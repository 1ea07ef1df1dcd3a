"""Invoices: a tenant's month, built from the ledger and the wallet entries.

An invoice is derived, never stored: per-model line items summed from the
ledger rows of the period (their stored costs, so later price changes do not
alter it), the top-ups and credit changes of the period, and the total usage.
Subscription fees and included usage come with plans (not built yet).
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, func, select

from plinth.billing.money import from_micros
from plinth.errors import InvalidRequest
from plinth.store.schema import usage, wallet_entries


@dataclass(frozen=True)
class Line:
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_micros: int


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

    @property
    def usage_micros(self) -> int:
        return sum(line.cost_micros for line in self.lines)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["object"] = "invoice"
        data["usage_micros"] = self.usage_micros
        data["usage"] = str(from_micros(self.usage_micros))
        data["subscription_fee_micros"] = 0
        data["total_due_micros"] = self.usage_micros
        return data


def month_bounds(period: str, timezone: str) -> tuple[datetime, datetime]:
    try:
        year, month = (int(part) for part in period.split("-"))
        zone = ZoneInfo(timezone)
        start = datetime(year, month, 1, tzinfo=zone)
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        raise InvalidRequest(
            "period must be YYYY-MM (and the time zone valid)", param="period"
        ) from None
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def build_invoice(
    engine: Engine, tenant_id: str, tenant_name: str, period: str, timezone: str = "UTC"
) -> Invoice:
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
        )
        .where(in_period)
        .group_by(usage.c.model)
        .order_by(usage.c.model)
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
            Line(model or "(none)", int(n), int(p), int(c), int(cost))
            for model, n, p, c, cost in conn.execute(query)
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
        tenant_id, tenant_name, period, timezone, start.isoformat(), end.isoformat(), lines, wallet
    )


def to_csv(invoice: Invoice) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["model", "requests", "prompt_tokens", "completion_tokens", "cost"])
    for line in invoice.lines:
        writer.writerow(
            [
                line.model,
                line.requests,
                line.prompt_tokens,
                line.completion_tokens,
                from_micros(line.cost_micros),
            ]
        )
    writer.writerow(["total", "", "", "", from_micros(invoice.usage_micros)])
    return out.getvalue()


def to_html(invoice: Invoice) -> str:
    """A printable page: no scripts, no external resources."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(line.model)}</td><td>{line.requests}</td><td>{line.prompt_tokens}</td>"
        f"<td>{line.completion_tokens}</td><td>{from_micros(line.cost_micros)}</td></tr>"
        for line in invoice.lines
    )
    wallet = "".join(
        f"<tr><td>{esc(w.created_at[:10])}</td><td>{esc(w.kind)}</td>"
        f"<td>{from_micros(w.amount_micros)}</td><td>{esc(w.note or '')}</td></tr>"
        for w in invoice.wallet
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Invoice {esc(invoice.tenant_name)} {esc(invoice.period)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;
margin:1em 0}}td,th{{border:1px solid #999;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}@media print{{body{{margin:0}}}}</style>
</head><body><h1>Invoice</h1>
<p>Tenant <b>{esc(invoice.tenant_name)}</b> ({esc(invoice.tenant_id)}) — period
{esc(invoice.period)} ({esc(invoice.timezone)}: {esc(invoice.starts)} to {esc(invoice.ends)})</p>
<table><tr><th>model</th><th>requests</th><th>prompt tokens</th><th>completion tokens</th>
<th>cost</th></tr>{rows}<tr><th>total usage</th><td></td><td></td><td></td>
<th>{from_micros(invoice.usage_micros)}</th></tr></table>
<h2>Wallet</h2><table><tr><th>date</th><th>kind</th><th>amount</th><th>note</th></tr>{wallet}
</table><p>Total due: <b>{from_micros(invoice.usage_micros)}</b></p></body></html>
"""


def to_json(invoice: Invoice) -> str:
    return json.dumps(invoice.as_json(), indent=2, default=str)
