"""An invoice as JSON, CSV (one table of lines) or a printable, self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
import json

from plinth.billing.invoices import Invoice
from plinth.billing.money import from_micros


def to_json(invoice: Invoice) -> str:
    return json.dumps(invoice.as_json(), indent=2, default=str)


CSV_COLUMNS = [
    "line",
    "item",
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "quantity",
    "amount",
]


def to_csv(invoice: Invoice) -> str:
    """One row per line: usage per model, plan fee/included/overage, storage, wallet, totals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in invoice.lines:
        writer.writerow(
            [
                "usage",
                line.model,
                line.requests,
                line.prompt_tokens,
                line.completion_tokens,
                line.quantity,
                from_micros(line.cost_micros),
            ]
        )
    writer.writerow(["usage total", "", "", "", "", "", from_micros(invoice.usage_micros)])
    for term in invoice.plan:
        item = f"{term.plan} {term.period}"
        if term.fee_micros:
            writer.writerow(["plan fee", item, "", "", "", "", from_micros(term.fee_micros)])
        writer.writerow(
            [
                "included usage",
                item,
                "",
                "",
                "",
                f"{from_micros(term.included_used_micros)} of {from_micros(term.included_micros)}",
                "0",
            ]
        )
        writer.writerow(
            [
                "overage",
                item,
                "",
                "",
                "",
                from_micros(term.overage_usage_micros),
                from_micros(term.overage_micros),
            ]
        )
    for store in invoice.storage:
        writer.writerow(
            [
                "storage",
                store.kind,
                "",
                "",
                "",
                f"{store.gb_months} GB-month",
                from_micros(store.cost_micros),
            ]
        )
    for entry in invoice.wallet:  # prepaid: listed, not part of the total due
        writer.writerow(
            [
                entry.kind,
                entry.note or "",
                "",
                "",
                "",
                entry.created_at,
                from_micros(entry.amount_micros),
            ]
        )
    if invoice.payg_usage_micros and invoice.plan:
        writer.writerow(
            ["pay-as-you-go usage", "", "", "", "", "", from_micros(invoice.payg_usage_micros)]
        )
    writer.writerow(["total due", "", "", "", "", "", from_micros(invoice.total_due_micros)])
    return out.getvalue()


def _rows(cells: list[list[object]]) -> str:
    esc = html.escape
    return "".join(
        "<tr>" + "".join(f"<td>{esc(str(cell))}</td>" for cell in row) + "</tr>" for row in cells
    )


def to_html(invoice: Invoice) -> str:
    """A printable page: no scripts, no external resources."""
    esc, money = html.escape, from_micros
    usage = _rows(
        [
            [
                f"{line.model} ({line.quantity})" if line.quantity else line.model,
                line.requests,
                line.prompt_tokens,
                line.completion_tokens,
                money(line.cost_micros),
            ]
            for line in invoice.lines
        ]
    )
    plan = _rows(
        [
            [
                f"{t.plan} {t.period}",
                money(t.fee_micros),
                money(t.included_micros),
                money(t.included_used_micros),
                money(t.overage_usage_micros),
                money(t.overage_micros),
            ]
            for t in invoice.plan
        ]
    )
    storage = _rows(
        [
            [s.kind, s.resources, s.gb_months, money(s.gb_month_micros), money(s.cost_micros)]
            for s in invoice.storage
        ]
    )
    wallet = _rows(
        [[w.created_at[:10], w.kind, money(w.amount_micros), w.note or ""] for w in invoice.wallet]
    )
    plan_table = (
        "<h2>Plan</h2><table><tr><th>period</th><th>fee</th><th>included</th>"
        f"<th>included used</th><th>overage usage</th><th>overage billed</th></tr>{plan}</table>"
        if invoice.plan
        else ""
    )
    storage_table = (
        "<h2>Storage</h2><table><tr><th>kind</th><th>resources</th><th>GB-months</th>"
        f"<th>per GB-month</th><th>cost</th></tr>{storage}</table>"
        if invoice.storage
        else ""
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Invoice {esc(invoice.tenant_name)} {esc(invoice.period)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;
margin:1em 0}}td,th{{border:1px solid #999;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}@media print{{body{{margin:0}}}}</style>
</head><body><h1>Invoice</h1>
<p>Tenant <b>{esc(invoice.tenant_name)}</b> ({esc(invoice.tenant_id)}) — period
{esc(invoice.period)} ({esc(invoice.timezone)}: {esc(invoice.starts)} to {esc(invoice.ends)})</p>
<h2>Usage</h2>
<table><tr><th>model</th><th>requests</th><th>prompt tokens</th><th>completion tokens</th>
<th>cost</th></tr>{usage}<tr><th>total usage</th><td></td><td></td><td></td>
<th>{money(invoice.usage_micros)}</th></tr></table>
{plan_table}{storage_table}
<h2>Wallet</h2><table><tr><th>date</th><th>kind</th><th>amount</th><th>note</th></tr>{wallet}
</table>
<p>Plan fees {money(invoice.subscription_fee_micros)} + overage {money(invoice.overage_micros)}
+ pay-as-you-go usage {money(invoice.payg_usage_micros)} + storage
{money(invoice.storage_micros)}</p>
<p>Total due: <b>{money(invoice.total_due_micros)}</b></p></body></html>
"""
