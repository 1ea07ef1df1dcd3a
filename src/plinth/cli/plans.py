"""``plinth plans``: subscription plans and which tenant is on which."""

from __future__ import annotations

from pathlib import Path

import click

from plinth.billing.plans import Plan, PlanStore
from plinth.cli.billing import amount_micros, when_option
from plinth.cli.common import data_dir_option, emit, format_option, open_db, print_json
from plinth.store.tenants import TenantStore


@click.group()
def plans() -> None:
    """Subscription plans: a fee and included usage per period, then overage or a stop."""


@plans.command("create")
@click.argument("name")
@click.option("--period", type=click.Choice(["day", "month"]), default="month", show_default=True)
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--fee", default="0", help="Per period, in currency units.")
@click.option("--included", default="0", help="Usage included per period, in currency units.")
@click.option(
    "--overage",
    type=click.Choice(["bill", "stop"]),
    default="bill",
    show_default=True,
    help="Past the included usage: bill it, or refuse requests until the next period.",
)
@click.option(
    "--overage-percent",
    type=click.IntRange(min=0, max=10_000),
    default=100,
    show_default=True,
    help="Overage billed at the price book × this / 100.",
)
@data_dir_option
def create(
    name: str,
    period: str,
    timezone: str,
    fee: str,
    included: str,
    overage: str,
    overage_percent: int,
    data_dir: Path | None,
) -> None:
    """Create plan NAME (plans are never edited: new terms, new name)."""
    plan = Plan(
        name=name,
        period=period,  # type: ignore[arg-type]
        timezone=timezone,
        fee_micros=amount_micros(fee, "--fee"),
        included_micros=amount_micros(included, "--included"),
        overage=overage,  # type: ignore[arg-type]
        overage_percent=overage_percent,
    )
    PlanStore(open_db(data_dir)).create(plan)
    click.echo(f"Plan '{name}' created.")


@plans.command("list")
@format_option("table", "json")
@data_dir_option
def list_plans(fmt: str, data_dir: Path | None) -> None:
    emit([p.as_json() for p in PlanStore(open_db(data_dir)).all()], fmt)


@plans.command("show")
@click.argument("name")
@data_dir_option
def show(name: str, data_dir: Path | None) -> None:
    print_json(PlanStore(open_db(data_dir)).get(name).as_json())


@plans.command("subscribe")
@click.argument("tenant")
@click.argument("plan")
@click.option(
    "--effective",
    default=None,
    help="ISO time it applies from [the end of the current plan's period; now if none].",
)
@data_dir_option
def subscribe(tenant: str, plan: str, effective: str | None, data_dir: Path | None) -> None:
    """Put TENANT on PLAN ('payg': back to pay-as-you-go)."""
    db = open_db(data_dir)
    found = TenantStore(db).get(tenant)
    plan_name = None if plan == "payg" else plan
    row = PlanStore(db).subscribe(found.id, plan_name, when_option(effective))
    what = f"plan '{row.plan}'" if row.plan else "pay-as-you-go"
    click.echo(f"Tenant {found.name} is on {what} from {row.effective_from.isoformat()}.")
