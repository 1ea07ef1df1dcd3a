"""``plinth prices``, ``plinth limits``, ``plinth wallet``, ``plinth invoices``.

Plans are in :mod:`plinth.cli.plans`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from sqlalchemy import Engine

from plinth.billing.accounts import MAX_LIMIT, Limits, LimitStore, WalletStore, spent_since
from plinth.billing.invoice_render import to_csv as invoice_csv
from plinth.billing.invoice_render import to_html as invoice_html
from plinth.billing.invoice_render import to_json as invoice_json
from plinth.billing.invoices import build_invoice
from plinth.billing.money import MAX_AMOUNT, from_micros, to_micros
from plinth.billing.plans import check_timezone
from plinth.billing.prices import PriceBook, storage_model
from plinth.cache.service import HIT_PRICE_PREFIX, hit_price_model
from plinth.cli.common import data_dir_option, emit, format_option, open_db, print_json
from plinth.store.keys import KeyStore
from plinth.store.tenants import TenantStore


def when_option(effective: str | None) -> datetime | None:
    """``--effective``: an ISO date or time (UTC unless it says otherwise)."""
    if effective is None:
        return None
    try:
        when = datetime.fromisoformat(effective)
    except ValueError:
        raise click.BadParameter("not an ISO date or time", param_hint="--effective") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def amount_micros(value: str, option: str) -> int:
    """A decimal amount from the command line as micro-units (BadParameter if not one)."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"'{value}' is not a decimal amount", param_hint=option) from None
    if not amount.is_finite() or amount > MAX_AMOUNT:
        raise click.BadParameter(
            f"'{value}' is not an amount up to {MAX_AMOUNT}", param_hint=option
        )
    if amount < 0:
        raise click.BadParameter("must not be negative", param_hint=option)
    return to_micros(amount)


@click.group()
def prices() -> None:
    """The price book: per 1M tokens, per request, per second; storage per GB-month."""


# ``prices set`` flags for the pass-through units → the price-row fields of UNITS.
UNIT_FLAGS = {
    "per_audio_second": ("--per-audio-second", "audio_second_micros"),
    "per_1k_characters": ("--per-1k-characters", "kchar_micros"),
    "per_image": ("--per-image", "image_micros"),
    "per_search_unit": ("--per-search-unit", "search_unit_micros"),
}


@prices.command("set")
@click.argument("model")
@click.option("--input", "input_", default="0", help="Per 1M input tokens.")
@click.option("--output", default="0", help="Per 1M output tokens.")
@click.option("--cached-input", default="0", help="Per 1M cached input tokens.")
@click.option("--per-request", default="0", help="Per request.")
@click.option("--per-second", default="0", help="Per second of serving time (local compute).")
@click.option(
    "--batch-discount",
    type=click.IntRange(0, 100),
    default=0,
    help="Percent off the cost of a Batch API line (0-100).",
)
@click.option("--per-audio-second", default="0", help="Per second of audio (pass-through).")
@click.option("--per-1k-characters", default="0", help="Per 1,000 characters (pass-through).")
@click.option("--per-image", default="0", help="Per image generated (pass-through).")
@click.option("--per-search-unit", default="0", help="Per rerank search unit (pass-through).")
@click.option(
    "--cache-hit",
    default=None,
    help="Per response-cache hit: adds a version of the price of cache_hit:MODEL "
    "[hits stay as priced before; none: free].",
)
@click.option("--effective", default=None, help="ISO date or time it applies from [now].")
@data_dir_option
def set_price(
    model: str,
    input_: str,
    output: str,
    cached_input: str,
    per_request: str,
    per_second: str,
    batch_discount: int,
    cache_hit: str | None,
    effective: str | None,
    data_dir: Path | None,
    **units: str,
) -> None:
    """Add a price version for MODEL (earlier versions stay for the ledger)."""
    if model.startswith("storage:"):
        raise click.BadParameter("storage is priced with 'prices set-storage'", param_hint="MODEL")
    if cache_hit is not None and model.startswith(HIT_PRICE_PREFIX):
        raise click.BadParameter(
            f"--cache-hit prices '{HIT_PRICE_PREFIX}MODEL'; give the served model's name",
            param_hint="MODEL",
        )
    when = when_option(effective)
    unit_micros = {
        field: amount_micros(units[name], flag) for name, (flag, field) in UNIT_FLAGS.items()
    }
    values = {
        "input_micros_per_mtok": amount_micros(input_, "--input"),
        "output_micros_per_mtok": amount_micros(output, "--output"),
        "cached_input_micros_per_mtok": amount_micros(cached_input, "--cached-input"),
        "request_micros": amount_micros(per_request, "--per-request"),
        "compute_second_micros": amount_micros(per_second, "--per-second"),
    }
    hit_micros = amount_micros(cache_hit, "--cache-hit") if cache_hit is not None else None
    book = PriceBook(open_db(data_dir))
    price = book.add(
        model, **values, batch_discount_percent=batch_discount, effective_from=when, **unit_micros
    )
    click.echo(f"Price {price.id} for '{model}' applies from {price.effective_from.isoformat()}.")
    if hit_micros is not None:
        hit = book.add(hit_price_model(model), request_micros=hit_micros, effective_from=when)
        click.echo(
            f"Price {hit.id} for '{hit.model}' (a cache hit) applies from "
            f"{hit.effective_from.isoformat()}."
        )


@prices.command("set-storage")
@click.argument("per_gb_month")
@click.option("--kind", default="vector_store", show_default=True, help="What is stored.")
@click.option("--effective", default=None, help="ISO date or time it applies from [now].")
@data_dir_option
def set_storage_price(
    per_gb_month: str, kind: str, effective: str | None, data_dir: Path | None
) -> None:
    """Price stored bytes: PER_GB_MONTH per 10^9 bytes held for 30 days."""
    model = storage_model(kind)
    price = PriceBook(open_db(data_dir)).add(
        model,
        storage_gb_month_micros=amount_micros(per_gb_month, "PER_GB_MONTH"),
        effective_from=when_option(effective),
    )
    click.echo(f"Price {price.id} for '{model}' applies from {price.effective_from.isoformat()}.")


@prices.command("list")
@format_option("table", "json")
@data_dir_option
def list_prices(fmt: str, data_dir: Path | None) -> None:
    """Every price version."""
    rows = []
    for p in PriceBook(open_db(data_dir)).all():
        rows.append(
            {
                "id": p.id,
                "model": p.model,
                "input_per_mtok": str(from_micros(p.input_micros_per_mtok)),
                "output_per_mtok": str(from_micros(p.output_micros_per_mtok)),
                "cached_input_per_mtok": str(from_micros(p.cached_input_micros_per_mtok)),
                "per_request": str(from_micros(p.request_micros)),
                "per_second": str(from_micros(p.compute_second_micros)),
                "storage_per_gb_month": str(from_micros(p.storage_gb_month_micros)),
                "batch_discount_percent": p.batch_discount_percent,
                **{
                    name: str(from_micros(getattr(p, field)))
                    for name, (_, field) in UNIT_FLAGS.items()
                },
                "effective_from": p.effective_from.isoformat(),
            }
        )
    emit(rows, fmt)


@click.group()
def limits() -> None:
    """Spend budgets and rate limits of keys and tenants."""


@limits.command("set")
@click.argument("subject")
@click.option("--spend", default=None, help="Budget per period, in currency units.")
@click.option("--period", type=click.Choice(["day", "month", "total"]), default="month")
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--rpm", type=click.IntRange(1, MAX_LIMIT), default=None, help="Requests per minute.")
@click.option("--tpm", type=click.IntRange(1, MAX_LIMIT), default=None, help="Tokens per minute.")
@click.option("--concurrent", type=click.IntRange(1, MAX_LIMIT), default=None)
@data_dir_option
def set_limits(
    subject: str,
    spend: str | None,
    period: str,
    timezone: str,
    rpm: int | None,
    tpm: int | None,
    concurrent: int | None,
    data_dir: Path | None,
) -> None:
    """SUBJECT is key:<key id> or tenant:<tenant id or name>; replaces its limits."""
    db = open_db(data_dir)
    kind, _, ref = subject.partition(":")
    if kind == "key" and ref:
        KeyStore(db).get(ref)
    elif kind == "tenant" and ref:
        subject = "tenant:" + TenantStore(db).get(ref).id
    else:
        raise click.BadParameter("use key:<id> or tenant:<id or name>", param_hint="SUBJECT")
    check_timezone(timezone)
    value = Limits(
        subject=subject,
        spend_micros=amount_micros(spend, "--spend") if spend is not None else None,
        spend_period=period,  # type: ignore[arg-type]
        timezone=timezone,
        requests_per_minute=rpm,
        tokens_per_minute=tpm,
        max_concurrent=concurrent,
    )
    LimitStore(db).set(value)
    click.echo(f"Limits of {subject} set (running servers apply them within 2 seconds).")


@limits.command("list")
@data_dir_option
def list_limits(data_dir: Path | None) -> None:
    print_json([v.as_json() for v in LimitStore(open_db(data_dir)).all()])


@click.group()
def wallet() -> None:
    """Pay-as-you-go wallets of tenants."""


@wallet.command()
@click.argument("tenant")
@click.argument("amount")
@click.option("--note", default=None)
@data_dir_option
def topup(tenant: str, amount: str, note: str | None, data_dir: Path | None) -> None:
    """Add AMOUNT (currency units) to TENANT's wallet."""
    db = open_db(data_dir)
    found = TenantStore(db).get(tenant)
    WalletStore(db).add(found.id, "topup", amount_micros(amount, "AMOUNT"), note)
    _show(db, found.id)


@wallet.command()
@click.argument("tenant")
@data_dir_option
def show(tenant: str, data_dir: Path | None) -> None:
    """Funds, spend and balance."""
    db = open_db(data_dir)
    _show(db, TenantStore(db).get(tenant).id)


def _show(db: Engine, tenant_id: str) -> None:
    funds = WalletStore(db).funds(tenant_id)
    spent = spent_since(db, "tenant:" + tenant_id, datetime(1970, 1, 1, tzinfo=UTC))
    balance = from_micros(funds - spent) if funds is not None else None
    click.echo(
        f"tenant {tenant_id}: funds {from_micros(funds) if funds is not None else '(no wallet)'}, "
        f"spent {from_micros(spent)}, balance {balance if balance is not None else '-'}"
    )


@click.command()
@click.argument("tenant")
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--timezone", default=None, help="Default: the tenant's plan's, else UTC.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json")
@data_dir_option
def invoices(
    tenant: str, period: str, timezone: str | None, fmt: str, data_dir: Path | None
) -> None:
    """A tenant's invoice for one month, from the ledger."""
    db = open_db(data_dir)
    found = TenantStore(db).get(tenant)
    built = build_invoice(db, found.id, found.name, period, timezone)
    text = {"json": invoice_json, "csv": invoice_csv, "html": invoice_html}[fmt](built)
    click.echo(text, nl=False)
