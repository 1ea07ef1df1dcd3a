"""Screenshots of the console's part-2 pages (models, knowledge, playground, bench), both languages.

Starts the real app on a free port with a fake OpenAI-compatible upstream on
loopback (the tests' ``upstreamfake``) and a redacting default privacy policy,
then drives Debian's chromium through Playwright: a deployment test, a
knowledge base with a searched file, a privacy preview with a placeholder and a
streamed answer, and a finished bench run.

    .venv/bin/python scripts/screenshots_part2.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

from plinth.app import create_app
from plinth.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from upstreamfake import FakeUpstream  # the tests' fake upstream, after the path

ADMIN_KEY = "sk-plinth-screenshots-admin-0123456789"
PASSWORD = "screenshots password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def prepare(page: Page, base: str, files: Path) -> tuple[str, str]:
    """Admin, a knowledge base with one file, a bench run; returns (store path, run path)."""
    page.goto(base + "/console/setup")
    for name, value in (("admin_key", ADMIN_KEY), ("name", "admin"), ("password", PASSWORD)):
        page.fill(f"form [name='{name}']", value)
    page.fill("form [name='password2']", PASSWORD)
    page.click("#create-admin")
    page.wait_for_url(re.compile(r".*/console/$"))
    page.goto(base + "/console/knowledge")
    page.fill("#create-store [name='name']", "员工手册 handbook")
    page.click("#create-store #create")
    page.wait_for_url(re.compile(r".*/console/knowledge/vs_\w+$"))
    store = page.url[len(base) :]
    (files / "leave.txt").write_text(
        "Annual leave is twenty days for every employee. 年假为每年二十天。"
    )
    page.set_input_files("#files", [str(files / "leave.txt")])
    page.click("#upload")
    page.wait_for_selector("#files tr[data-status='completed']", timeout=30_000)
    page.goto(base + "/console/bench")
    page.check("#candidates input[value='gpt-fake']")
    page.fill("#requests", "3")
    page.click("#start")
    page.wait_for_url(re.compile(r".*/console/bench/[^/]+$"))
    run = page.url[len(base) :]
    page.wait_for_selector("#recommendation", timeout=60_000)
    return store, run


def shoot(page: Page, base: str, out: Path, lang: str, store: str, run: str) -> None:
    page.goto(base + "/console/models")
    page.click("table.deployments button.test")
    page.wait_for_selector("#test-result")
    page.screenshot(path=str(out / f"models-{lang}.png"))
    page.goto(base + store + "?q=annual+leave")
    page.screenshot(path=str(out / f"knowledge-{lang}.png"), full_page=True)
    page.goto(base + "/console/playground")
    page.fill("#message", "我的身份证号是11010519491231002X，请帮我查一下年假。")
    page.click("#preview")
    page.wait_for_selector("#preview-out mark.placeholder")
    page.fill("#message", "How many days of annual leave do I have?")
    page.click("#send")
    page.wait_for_selector("#turn-stats[data-done='1']")
    page.screenshot(path=str(out / f"playground-{lang}.png"), full_page=True)
    page.goto(base + run)
    page.screenshot(path=str(out / f"bench-{lang}.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    os.environ["FAKE_UPSTREAM_API_KEY"] = "sk-upstream-screenshots"
    with tempfile.TemporaryDirectory() as tmp, FakeUpstream() as upstream:
        settings = Settings(
            data_dir=Path(tmp),
            admin_key=ADMIN_KEY,  # type: ignore[arg-type]
            load_bundled_models=False,
            deployments=[  # type: ignore[list-item]
                {
                    "model": "gpt-fake",
                    "id": "gpt-fake@cloud",
                    "base_url": upstream.base_url,
                    "api_key_env": "FAKE_UPSTREAM_API_KEY",
                    "upstream_model": "fake-model",
                    "region": "cn-north",
                    "input_price_per_mtok": "0.4",
                    "output_price_per_mtok": "1.6",
                }
            ],
            routing={"health_interval_s": 0},  # type: ignore[arg-type]
            privacy={"default_policy": "redact"},  # type: ignore[arg-type]
        )
        server, thread, base = _serve(settings)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--headless=new", "--no-sandbox"]
                )
                context = browser.new_context(viewport={"width": 1280, "height": 860})
                page = context.new_page()
                store, run = prepare(page, base, Path(tmp))
                for lang in ("en", "zh-CN"):
                    if lang == "zh-CN":
                        page.click("#lang-zh-CN")
                        page.wait_for_load_state()
                    shoot(page, base, args.out, lang, store, run)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    print(f"wrote part-2 screenshots to {args.out}")


if __name__ == "__main__":
    main()
