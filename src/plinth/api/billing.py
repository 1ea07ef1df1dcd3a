"""``/admin/prices``, ``/admin/limits``, ``/admin/tenants/{tenant}/wallet``, invoices.

The routes of :mod:`plinth.api.plans` are served with these.

Amounts go in and out as decimal strings in units of the billing currency
("0.56"); they are stored as integer micro-units.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.admin import admin_only
from plinth.api.http import json_response, parse_json, read_body
from plinth.api.plans import routes as plan_routes
from plinth.billing.accounts import MAX_LIMIT, Limits, spent_since
from plinth.billing.invoice_render import to_csv as invoice_csv
from plinth.billing.invoice_render import to_html as invoice_html
from plinth.billing.invoices import build_invoice
from plinth.billing.money import MAX_AMOUNT, from_micros, to_micros
from plinth.billing.plans import check_timezone
from plinth.billing.prices import STORAGE_PREFIX
from plinth.errors import InvalidRequest, NotFound
from plinth.protocol.common import WireModel
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
_UNIT_PRICES = {
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


def _price_json(price: object) -> dict[str, object]:
    data = price.as_json()  # type: ignore[attr-defined]
    for name in ("input", "output", "cached_input"):
        data[f"{name}_per_mtok"] = str(from_micros(data.pop(f"{name}_micros_per_mtok")))
    data["per_request"] = str(from_micros(data.pop("request_micros")))
    data["per_second"] = str(from_micros(data.pop("compute_second_micros")))
    data["storage_per_gb_month"] = str(from_micros(data.pop("storage_gb_month_micros")))
    for wire, field in _UNIT_PRICES.items():
        data[wire] = str(from_micros(data.pop(field)))
    return dict(data)


async def list_prices(request: Request, svc: Services) -> Response:
    rows = await svc.db.run(svc.billing.prices.all)
    return json_response({"object": "list", "data": [_price_json(p) for p in rows]})


async def add_price(request: Request, svc: Services) -> Response:
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), NewPrice)
    storage = body.model.startswith(STORAGE_PREFIX)
    usage_prices = (
        body.input_per_mtok,
        body.output_per_mtok,
        body.cached_input_per_mtok,
        body.per_request,
        body.per_second,
        *(getattr(body, wire) for wire in _UNIT_PRICES),
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
    price = await svc.db.run(
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
        **{field: to_micros(getattr(body, wire)) for wire, field in _UNIT_PRICES.items()},
    )
    return json_response(_price_json(price), status=201)


async def _subject(svc: Services, raw: str) -> str:
    kind, _, ref = raw.partition(":")
    if kind == "key" and ref:
        await svc.db.run(svc.keys.get, ref)  # 404 if unknown
        return raw
    if kind == "tenant" and ref:
        return "tenant:" + (await svc.db.run(svc.tenants.get, ref)).id
    raise InvalidRequest("subject must be 'key:<id>' or 'tenant:<id or name>'", param="subject")


async def set_limits(request: Request, svc: Services) -> Response:
    subject = await _subject(svc, request.path_params["subject"])
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), NewLimits)
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
    return json_response({"object": "limits", **limits.as_json()})


async def list_limits(request: Request, svc: Services) -> Response:
    rows = await svc.db.run(svc.billing.limits.all)
    return json_response({"object": "list", "data": [r.as_json() for r in rows]})


async def _wallet_json(svc: Services, tenant_id: str) -> dict[str, object]:
    funds = await svc.db.run(svc.billing.wallets.funds, tenant_id)
    spent = await svc.db.run(
        spent_since, svc.db.engine, "tenant:" + tenant_id, datetime(1970, 1, 1, tzinfo=UTC)
    )
    return {
        "object": "wallet",
        "tenant_id": tenant_id,
        "funds": str(from_micros(funds)) if funds is not None else None,
        "spent": str(from_micros(spent)),
        "balance": str(from_micros(funds - spent)) if funds is not None else None,
    }


async def wallet(request: Request, svc: Services) -> Response:
    tenant = await svc.db.run(svc.tenants.get, request.path_params["tenant"])
    await svc.recorder.flush()
    return json_response(await _wallet_json(svc, tenant.id))


async def wallet_entry(request: Request, svc: Services) -> Response:
    tenant = await svc.db.run(svc.tenants.get, request.path_params["tenant"])
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), WalletEntry)
    kinds = {"topups": "topup", "credit-limit": "credit_limit"}
    if request.path_params["kind"] not in kinds:
        raise NotFound("Wallet entries are 'topups' or 'credit-limit'", param="kind")
    kind = kinds[request.path_params["kind"]]
    await svc.db.run(svc.billing.wallets.add, tenant.id, kind, to_micros(body.amount), body.note)
    svc.billing.forget()
    await svc.recorder.flush()
    return json_response(await _wallet_json(svc, tenant.id), status=201)


async def invoice(request: Request, svc: Services) -> Response:
    tenant = await svc.db.run(svc.tenants.get, request.path_params["tenant"])
    await svc.recorder.flush()
    timezone = request.query_params.get("timezone")  # default: the tenant's plan's
    built = await svc.db.run(
        build_invoice,
        svc.db.engine,
        tenant.id,
        tenant.name,
        request.path_params["period"],
        timezone,
    )
    fmt = request.query_params.get("format", "json")
    if fmt == "csv":
        return Response(invoice_csv(built), media_type="text/csv")
    if fmt == "html":
        return Response(invoice_html(built), media_type="text/html")
    if fmt != "json":
        raise InvalidRequest("format must be json, csv or html", param="format")
    return json_response(built.as_json())


routes = [
    Route("/admin/prices", admin_only(list_prices), methods=["GET"]),
    Route("/admin/prices", admin_only(add_price), methods=["POST"]),
    Route("/admin/limits", admin_only(list_limits), methods=["GET"]),
    Route("/admin/limits/{subject}", admin_only(set_limits), methods=["PUT"]),
    Route("/admin/tenants/{tenant}/wallet", admin_only(wallet), methods=["GET"]),
    Route("/admin/tenants/{tenant}/invoices/{period}", admin_only(invoice), methods=["GET"]),
    Route(
        "/admin/tenants/{tenant}/wallet/{kind:str}",
        admin_only(wallet_entry),
        methods=["POST"],
    ),
    *plan_routes,
]
