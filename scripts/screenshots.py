"""Screenshots of the web console's main pages, in English and Chinese, for the README.

Starts the real app on a free port over a throw-away data dir seeded with two
weeks of a small organisation's traffic (tenants, keys, prices, a plan, wallet
top-ups, ledger rows with privacy decisions), signs in through the pages, and
has Debian's chromium (through Playwright) capture each page.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

from plinth.app import create_app
from plinth.billing.accounts import WalletStore
from plinth.billing.plans import Plan, PlanStore
from plinth.billing.prices import PriceBook
from plinth.settings import Settings
from plinth.store.audit import AuditRecord
from plinth.store.console_users import ConsoleUserStore
from plinth.store.database import open_database
from plinth.store.keys import KeyStore
from plinth.store.tenants import TenantStore
from plinth.store.usage import AttemptRecord, UsageRecord, UsageStore

ADMIN_KEY = "sk-plinth-screenshots-admin-0123456789"
PASSWORD = "screenshots password"
MODELS = {
    "qwen3-8b": "qwen3-8b@local",
    "gpt-4.1-mini": "gpt-4.1-mini@openai",
    "deepseek-chat": "deepseek-chat@deepseek",
    "smollm2-135m-instruct": "smollm2@local",
}


def seed(url: str) -> str:
    """Two weeks of traffic; returns the id of one request with a failover and a redaction."""
    engine = open_database(url)
    rng = random.Random(3)
    tenants = [TenantStore(engine).create(n) for n in ("Acme 工业", "Globex", "Initech")]
    keys = KeyStore(engine)
    tenant_keys = {
        t.id: [keys.create(f"{t.name} · {k}", tenant_id=t.id)[0].id for k in ("web", "batch")]
        for t in tenants
    }
    prices = PriceBook(engine)
    old = datetime.now(UTC) - timedelta(days=30)
    for model, (cin, cout) in {
        "gpt-4.1-mini": (400_000, 1_600_000),
        "deepseek-chat": (270_000, 1_100_000),
    }.items():
        prices.add(
            model, input_micros_per_mtok=cin, output_micros_per_mtok=cout, effective_from=old
        )
    prices.add("gpt-4.1-mini", input_micros_per_mtok=350_000, output_micros_per_mtok=1_400_000)
    PlanStore(engine).create(Plan("team", "month", "Asia/Shanghai", 99_000_000, 80_000_000, "bill"))
    wallets = WalletStore(engine)
    for tenant in tenants:
        wallets.add(tenant.id, "topup", 200_000_000, "initial")
    now, records, chosen = datetime.now(UTC), [], ""
    for i in range(4000):
        tenant = rng.choices(tenants, [5, 3, 1])[0]
        model = rng.choices(list(MODELS), [4, 3, 2, 1])[0]
        ok = rng.random() > 0.04
        created = now - timedelta(seconds=rng.uniform(0, 14 * 86400) ** 1.0)
        prompt, completion = int(rng.lognormvariate(5.5, 0.9)), int(rng.lognormvariate(4.6, 0.8))
        request_id = f"req_{i:024x}"
        record = UsageRecord(
            request_id=request_id,
            created_at=created,
            key_id=rng.choice(tenant_keys[tenant.id]),
            endpoint="chat",
            model=model,
            status="ok" if ok else "error",
            http_status=200 if ok else 502,
            prompt_tokens=prompt,
            completion_tokens=completion if ok else 0,
            cached_tokens=prompt // 3 if rng.random() < 0.4 else 0,
            latency_ms=rng.lognormvariate(6.6, 0.6),
            ttft_ms=rng.lognormvariate(5.2, 0.5),
            deployment=MODELS[model],
            usage_source="upstream",
            attempts=1,
            tenant_id=tenant.id,
            cost_micros=(prompt * 400 + completion * 1600) // 1000 if ok else 0,
            error_code=None if ok else "upstream_error",
            finish_reason="stop" if ok else None,
        )
        if rng.random() < 0.2:
            action = rng.choice(["redact", "local_only", "allow"])
            entities = {rng.choice(["CN_MOBILE", "EMAIL", "CN_ID_CARD", "PERSON"]): 1}
            record.audit = AuditRecord(
                request_id,
                created,
                record.key_id,
                "chat",
                model,
                "cn-strict",
                action,
                entities,
                [],
                record.deployment,
                "local" if action == "local_only" else "cloud",
                action == "redact",
            )
        if not chosen and ok and record.audit is not None and created > now - timedelta(hours=3):
            record.attempts = 2
            record.failed_attempts = [
                AttemptRecord(
                    request_id,
                    1,
                    created,
                    "gpt-4.1-mini@azure",
                    "upstream_timeout",
                    504,
                    "read timeout",
                    30000.0,
                )
            ]
            chosen = request_id
        records.append(record)
    UsageStore(engine).append(records)
    ConsoleUserStore(engine).create("admin", "admin", PASSWORD)
    engine.dispose()
    return chosen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shoot(page: Page, base: str, out: Path, lang: str, request_id: str, tenant: str) -> None:
    pages = {
        "dashboard": "/console/?range=7d",
        "requests": "/console/requests",
        "request": f"/console/requests/{request_id}",
        "keys": "/console/keys",
        "tenant": f"/console/tenants/{tenant}",
        "billing": "/console/billing",
        "invoice": f"/console/tenants/{tenant}/invoices/{datetime.now(UTC):%Y-%m}",
        "audit": "/console/audit?range=7d",
    }
    for name, path in pages.items():
        page.goto(base + path)
        page.screenshot(path=str(out / f"{name}-{lang}.png"), full_page=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="plinth-screens-"))
    url = f"sqlite:///{data_dir / 'plinth.db'}"
    request_id = seed(url)
    settings = Settings(
        data_dir=data_dir,
        admin_key=ADMIN_KEY,  # type: ignore[arg-type]
        load_bundled_models=False,
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--headless=new", "--no-sandbox", "--disable-gpu"]
            )
            for lang, locale in (("en", "en-GB"), ("zh-CN", "zh-CN")):
                context = browser.new_context(
                    locale=locale,
                    viewport={"width": 1280, "height": 860},
                    extra_http_headers={"accept-language": locale},
                )
                page = context.new_page()
                page.goto(base + "/console/signin")
                page.screenshot(path=str(args.out / f"signin-{lang}.png"))
                page.fill("#name", "admin")
                page.fill("#password", PASSWORD)
                page.click("#signin")
                page.wait_for_url(re.compile(r".*/console/$"))
                page.goto(base + "/console/tenants")
                tenant = page.get_attribute("#tenants a", "href").rsplit("/", 1)[1]  # type: ignore[union-attr]
                shoot(page, base, args.out, lang, request_id, tenant)
                context.close()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"wrote {len(list(args.out.glob('*.png')))} screenshots to {args.out}")


if __name__ == "__main__":
    main()
