"""The ``plinth`` command, run through click's test runner on a temporary data dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from plinth.catalog.bundled import BUNDLED_MODELS
from plinth.cli import main
from plinth.errors import BundledModelMissing
from plinth.store.database import open_database
from plinth.store.tenants import TenantStore
from plinth.store.usage import UsageRecord, UsageStore


def test_keys_create_list_revoke(run) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "create", "--name", "ci-bot")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk-plinth-")
    listing = run("keys", "list")
    assert "ci-bot" in listing.output and secret not in listing.output
    keys = json.loads(run("keys", "list", "--format", "json").stdout)
    key_id = next(k["id"] for k in keys if k["name"] == "ci-bot")
    assert run("keys", "revoke", key_id).exit_code == 0
    assert "revoked" in run("keys", "list").output
    missing = run("keys", "revoke", "key_nope")
    assert missing.exit_code != 0 and "No API key" in missing.output
    assert "Traceback" not in missing.output


def test_models_add_list_remove(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("hello")
    refused = run("models", "add", str(not_gguf), "--id", "notes")
    assert refused.exit_code != 0 and "not a GGUF file" in refused.output

    chat = next(m for m in BUNDLED_MODELS if m.kind == "chat")
    gguf = chat.locate(tmp_path, False)
    assert run("models", "add", str(gguf), "--id", "my-smol").exit_code == 0
    duplicate = run("models", "add", str(gguf), "--id", "my-smol")
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    bundled = run("models", "add", str(gguf), "--id", chat.id)
    assert bundled.exit_code != 0 and "bundled" in bundled.output
    assert run("models", "add", str(gguf), "--id", "bad id!").exit_code != 0

    rows = json.loads(run("models", "list", "--format", "json").stdout)
    by_id = {r["id"]: r for r in rows}
    assert by_id["my-smol"]["source"] == "added" and by_id["my-smol"]["status"] == "ok"
    assert by_id[chat.id]["status"] == "installed"
    assert run("models", "remove", "my-smol").exit_code == 0
    assert run("models", "remove", "my-smol").exit_code != 0


def test_usage_formats(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = UsageStore(open_database(f"sqlite:///{tmp_path / 'plinth.db'}"))
    now = datetime.now(UTC)
    store.append(
        [
            UsageRecord(f"req_{i}", now, "key_a", "chat.completions", "m1", "ok", 200, 10, 5, 12.5)
            for i in range(3)
        ]
        + [UsageRecord("req_x", now, "key_b", "embeddings", "m2", "error", 404, 0, 0, 1.0)]
    )
    rows = json.loads(run("usage", "--by", "model", "--format", "json").stdout)
    assert rows == [
        {
            "model": "m1",
            "requests": 3,
            "failed": 0,
            "prompt_tokens": 30,
            "cached_tokens": 0,
            "completion_tokens": 15,
            "avg_latency_ms": 12.5,
            "total_tokens": 45,
        },
        {
            "model": "m2",
            "requests": 1,
            "failed": 1,
            "prompt_tokens": 0,
            "cached_tokens": 0,
            "completion_tokens": 0,
            "avg_latency_ms": 1.0,
            "total_tokens": 0,
        },
    ]
    csv_out = run("usage", "--by", "key", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("key,requests") and csv_out[1].startswith("key_a,3,0,30,15,0")
    table = run("usage", "--by", "day").stdout
    assert now.date().isoformat() in table
    bad = run("usage", "--since", "not-a-date")
    assert bad.exit_code != 0 and "ISO-8601" in bad.output and "Traceback" not in bad.output


def test_serve_help_lists_its_options() -> None:
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    for option in ("--host", "--port", "--data-dir", "--log-level"):
        assert option in help_text


def test_tenants_and_keys_with_a_tenant(run) -> None:  # type: ignore[no-untyped-def]
    created = run("tenants", "create", "acme", "--privacy-policy", "redact")
    assert created.exit_code == 0, created.output
    assert run("tenants", "create", "acme").exit_code == 1
    assert run("tenants", "create", "x", "--privacy-policy", "paranoid").exit_code == 2
    listed = json.loads(run("tenants", "list", "--format", "json").output)
    assert [(t["name"], t["privacy_policy"]) for t in listed] == [("acme", "redact")]
    key = run("keys", "create", "--name", "bot", "--tenant", "acme")
    assert key.exit_code == 0, key.output
    keys = json.loads(run("keys", "list", "--format", "json").output)
    assert keys[-1]["tenant_id"] == listed[0]["id"]
    assert run("keys", "create", "--name", "x", "--tenant", "nobody").exit_code == 2
    assert run("tenants", "set-policy", "acme", "none").exit_code == 0
    assert (
        json.loads(run("tenants", "list", "--format", "json").output)[0]["privacy_policy"] is None
    )


def test_prices_limits_and_wallet(run) -> None:  # type: ignore[no-untyped-def]
    assert run("prices", "set", "gpt-x", "--input", "0.5", "--output", "1.5").exit_code == 0
    assert (
        run("prices", "set", "gpt-x", "--input", "0.4", "--effective", "2030-01-01").exit_code == 0
    )
    listed = json.loads(run("prices", "list", "--format", "json").output)
    assert [(p["input_per_mtok"], p["output_per_mtok"]) for p in listed] == [
        ("0.5", "1.5"),
        ("0.4", "0"),
    ]
    assert run("prices", "set", "gpt-x", "--input", "-1").exit_code == 2
    assert run("tenants", "create", "acme").exit_code == 0
    limited = run("limits", "set", "tenant:acme", "--spend", "10", "--period", "day", "--rpm", "60")
    assert limited.exit_code == 0, limited.output
    assert json.loads(run("limits", "list").output)[0]["spend_micros"] == 10_000_000
    assert run("limits", "set", "key:key_nope", "--rpm", "1").exit_code == 2
    topped = run("wallet", "topup", "acme", "12.34")
    assert (
        topped.exit_code == 0
        and "funds 12.34" in topped.output
        and "balance 12.34" in topped.output
    )
    assert "no wallet" not in run("wallet", "show", "acme").output
    assert run("wallet", "topup", "nobody", "1").exit_code == 2


def test_invoices_command(run) -> None:  # type: ignore[no-untyped-def]
    assert run("tenants", "create", "acme").exit_code == 0
    assert run("wallet", "topup", "acme", "3").exit_code == 0
    period = datetime.now(UTC).strftime("%Y-%m")
    shown = run("invoices", "acme", "--period", period)
    assert shown.exit_code == 0, shown.output
    invoice = json.loads(shown.output)
    assert invoice["usage_micros"] == 0 and invoice["wallet"][0]["amount_micros"] == 3_000_000
    assert "<html>" in run("invoices", "acme", "--period", period, "--format", "html").output
    assert run("invoices", "acme", "--period", "nope").exit_code == 2


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("tenants", "create", "acme"), 1, "A tenant named 'acme' exists already"),
        (("plans", "create", "gold"), 1, "A plan named 'gold' exists"),
        (("models", "add", "{gguf}", "--id", "my-smol"), 1, "A model named 'my-smol' already"),
        (("keys", "revoke", "key_nope"), 2, "No API key"),
        (("tenants", "set-policy", "nobody", "none"), 2, "nobody"),
        (("plans", "show", "nope"), 2, "nope"),
        (("plans", "subscribe", "acme", "nope"), 2, "nope"),
        (("wallet", "show", "nobody"), 2, "nobody"),
        (("limits", "set", "tenant:acme", "--timezone", "Nowhere/Land"), 2, "Nowhere/Land"),
        (("audit", "--since", "not-a-date"), 2, "ISO-8601"),
    ],
)
def test_an_error_ends_a_command_as_one_line_and_an_exit_status(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, args: tuple[str, ...], status: int, message: str
) -> None:
    """Refusals of a well-formed command exit 1; mistakes in what it was given exit 2."""
    gguf = next(m for m in BUNDLED_MODELS if m.kind == "chat").locate(tmp_path, False)
    assert run("tenants", "create", "acme").exit_code == 0
    assert run("plans", "create", "gold").exit_code == 0
    assert run("models", "add", str(gguf), "--id", "my-smol").exit_code == 0
    result = run(*(str(gguf) if a == "{gguf}" else a for a in args))
    assert result.exit_code == status, result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output


def test_a_bug_in_a_command_is_not_disguised_as_an_error_message(  # type: ignore[no-untyped-def]
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: TenantStore) -> list[object]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(TenantStore, "list", broken)
    result = run("tenants", "list")
    assert isinstance(result.exception, RuntimeError) and "Error: " not in result.output


def test_a_set_up_error_ends_a_command_with_its_advice(  # type: ignore[no-untyped-def]
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(self: TenantStore) -> list[object]:
        raise BundledModelMissing("install it: pip install --no-deps gt-example")

    monkeypatch.setattr(TenantStore, "list", missing)
    result = run("tenants", "list")
    assert result.exit_code == 1
    assert result.output == "Error: install it: pip install --no-deps gt-example\n"
