"""``/admin/prices``, ``/admin/limits``, ``/admin/tenants/{tenant}/wallet``, invoices.

The routes of :mod:`plinth.api.plans` are served with these.

Amounts go in and out as decimal strings in units of the billing currency
("0.56"); they are stored as integer micro-units.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plinth.api.admin import admin_only
from plinth.api.http import json_response, parse_json, read_body
from plinth.api.plans import routes as plan_routes
from plinth.billing import admin_ops
from plinth.billing.accounts import spent_since
from plinth.billing.admin_ops import UNIT_PRICES, NewLimits, NewPrice, WalletEntry
from plinth.billing.invoice_render import to_csv as invoice_csv
from plinth.billing.invoice_render import to_html as invoice_html
from plinth.billing.invoices import build_invoice
from plinth.billing.money import from_micros
from plinth.errors import InvalidRequest, NotFound
from plinth.services import Services


def _price_json(price: object) -> dict[str, object]:
    data = price.as_json()  # type: ignore[attr-defined]
    for name in ("input", "output", "cached_input"):
        data[f"{name}_per_mtok"] = str(from_micros(data.pop(f"{name}_micros_per_mtok")))
    data["per_request"] = str(from_micros(data.pop("request_micros")))
    data["per_second"] = str(from_micros(data.pop("compute_second_micros")))
    data["storage_per_gb_month"] = str(from_micros(data.pop("storage_gb_month_micros")))
    for wire, field in UNIT_PRICES.items():
        data[wire] = str(from_micros(data.pop(field)))
    return dict(data)


async def list_prices(request: Request, svc: Services) -> Response:
    rows = await svc.db.run(svc.billing.prices.all)
    return json_response({"object": "list", "data": [_price_json(p) for p in rows]})


async def add_price(request: Request, svc: Services) -> Response:
    body = parse_json(await read_body(request, svc.settings.max_body_bytes), NewPrice)
    price = await admin_ops.add_price(svc, body)
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
    limits = await admin_ops.set_limits(svc, subject, body)
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
    await admin_ops.add_wallet_entry(svc, tenant.id, kinds[request.path_params["kind"]], body)
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
