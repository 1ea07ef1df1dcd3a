"""The admin's billing changes: prices, limits, plans, wallet entries.

``/admin/...`` (``api/billing.py``, ``api/plans.py``) and the console's pages
both read their input into these request models and change billing through
these functions, so a value one refuses the other refuses with the same rule.
Amounts are decimal strings in units of the billing currency; they are stored
as integer micro-units.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from plinth.billing.accounts import MAX_LIMIT, Limits
from plinth.billing.money import MAX_AMOUNT, to_micros
from plinth.billing.plans import Plan, check_timezone
from plinth.billing.prices import STORAGE_PREFIX
from plinth.errors import InvalidRequest
from plinth.protocol.common import WireModel

if TYPE_CHECKING:
    from plinth.billing.prices import Price
    from plinth.services import Services

Amount = Decimal


class NewPrice(WireModel):
    model: str = Field(min_length=1, max_length=200)
    input_per_mtok: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    output_per_mtok: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    cached_input_per_mtok: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    per_request: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    per_second: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)  # of serving time (local compute)
    storage_per_gb_month: Amount = Field(
        Decimal(0), ge=0, le=MAX_AMOUNT
    )  # only on "storage:<kind>"
    batch_discount_percent: int = Field(0, ge=0, le=100)  # off a Batch API line's cost
    # Pass-through endpoints' units (billing.prices.UNITS).
    per_audio_second: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    per_1k_characters: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    per_image: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    per_search_unit: Amount = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    effective_from: datetime | None = None


# Wire name of each per-unit price ↔ its price-row field.
UNIT_PRICES = {
    "per_audio_second": "audio_second_micros",
    "per_1k_characters": "kchar_micros",
    "per_image": "image_micros",
    "per_search_unit": "search_unit_micros",
}


class NewLimits(WireModel):
    spend: Amount | None = Field(None, ge=0, le=MAX_AMOUNT)
    spend_period: Literal["day", "month", "total"] = "month"
    timezone: str = "UTC"
    requests_per_minute: int | None = Field(None, ge=1, le=MAX_LIMIT)
    tokens_per_minute: int | None = Field(None, ge=1, le=MAX_LIMIT)
    max_concurrent: int | None = Field(None, ge=1, le=MAX_LIMIT)


class WalletEntry(WireModel):
    amount: Amount = Field(ge=0, le=MAX_AMOUNT)
    note: str | None = Field(None, max_length=500)


class NewPlan(WireModel):
    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    period: Literal["day", "month"] = "month"
    timezone: str = "UTC"
    fee: Decimal = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    included: Decimal = Field(Decimal(0), ge=0, le=MAX_AMOUNT)
    overage: Literal["bill", "stop"] = "bill"
    overage_percent: int = Field(100, ge=0, le=10_000)


async def add_price(svc: Services, body: NewPrice) -> Price:
    """A new version of a model's price (a storage row takes only its storage price)."""
    storage = body.model.startswith(STORAGE_PREFIX)
    usage_prices = (
        body.input_per_mtok,
        body.output_per_mtok,
        body.cached_input_per_mtok,
        body.per_request,
        body.per_second,
        *(getattr(body, wire) for wire in UNIT_PRICES),
    )
    if storage and any(usage_prices):
        raise InvalidRequest(
            "A storage price row ('storage:<kind>') only takes storage_per_gb_month",
            param="model",
        )
    if not storage and body.storage_per_gb_month:
        raise InvalidRequest(
            "storage_per_gb_month goes on the model 'storage:vector_store'",
            param="storage_per_gb_month",
        )
    effective = body.effective_from
    if effective is not None and effective.tzinfo is None:
        effective = effective.replace(tzinfo=UTC)
    price: Price = await svc.db.run(
        svc.billing.prices.add,
        body.model,
        input_micros_per_mtok=to_micros(body.input_per_mtok),
        output_micros_per_mtok=to_micros(body.output_per_mtok),
        cached_input_micros_per_mtok=to_micros(body.cached_input_per_mtok),
        request_micros=to_micros(body.per_request),
        compute_second_micros=to_micros(body.per_second),
        storage_gb_month_micros=to_micros(body.storage_per_gb_month),
        batch_discount_percent=body.batch_discount_percent,
        effective_from=effective,
        **{field: to_micros(getattr(body, wire)) for wire, field in UNIT_PRICES.items()},
    )
    return price


async def set_limits(svc: Services, subject: str, body: NewLimits) -> Limits:
    """Replace the limits of ``key:<id>`` or ``tenant:<id>``; they apply at once."""
    check_timezone(body.timezone)
    limits = Limits(
        subject=subject,
        spend_micros=to_micros(body.spend) if body.spend is not None else None,
        spend_period=body.spend_period,
        timezone=body.timezone,
        requests_per_minute=body.requests_per_minute,
        tokens_per_minute=body.tokens_per_minute,
        max_concurrent=body.max_concurrent,
    )
    await svc.db.run(svc.billing.limits.set, limits)
    svc.billing.forget()
    return limits


async def create_plan(svc: Services, body: NewPlan) -> Plan:
    plan = Plan(
        name=body.name,
        period=body.period,
        timezone=body.timezone,
        fee_micros=to_micros(body.fee),
        included_micros=to_micros(body.included),
        overage=body.overage,
        overage_percent=body.overage_percent,
    )
    await svc.db.run(svc.billing.plans.create, plan)
    return plan


async def add_wallet_entry(svc: Services, tenant_id: str, kind: str, body: WalletEntry) -> None:
    """A ``topup`` or a new ``credit_limit``; spending checks see it at once."""
    await svc.db.run(svc.billing.wallets.add, tenant_id, kind, to_micros(body.amount), body.note)
    svc.billing.forget()
