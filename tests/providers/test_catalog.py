"""The provider catalog: it loads, every price is sourced, presets make deployments."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from plinth.cli import main
from plinth.providers.catalog import deployment_from_preset, load_catalog, provider

REQUIRED = {
    "openai",
    "azure-openai",
    "deepseek",
    "qwen",
    "zhipu",
    "moonshot",
    "qianfan",
    "spark",
    "gemini",
    "bedrock",
    "anthropic",
    "vllm",
    "llama-server",
    "ollama",
    "plinth",
}


def test_every_required_provider_is_there() -> None:
    assert set(load_catalog()) >= REQUIRED


def test_every_price_has_a_date_and_a_source() -> None:
    for key, preset in load_catalog().items():
        priced = [m for m in preset.models if m.input is not None or m.output is not None]
        hosted = preset.locality == "cloud"
        for model in priced if hosted else []:
            read_on, source = preset.price_provenance(model)
            assert read_on and source and source.startswith("https://"), (key, model.id)
        for model in priced:
            assert all(p is None or p >= 0 for p in (model.input, model.output, model.cached_input))
        if hosted and not priced:
            assert preset.prices_note, f"{key}: say why there are no prices"
        for fact in preset.facts:
            assert fact.source.startswith("https://"), key


def test_deepseek_preset_makes_a_priced_deployment() -> None:
    d = deployment_from_preset("deepseek", "deepseek-chat")
    assert (d.id, d.engine, d.base_url) == (
        "deepseek-chat@api.deepseek.com",
        "openai",
        "https://api.deepseek.com/v1",
    )
    assert (
        d.api_key_env == "DEEPSEEK_API_KEY" and d.locality == "cloud" and d.provider == "deepseek"
    )
    assert (d.input_price_per_mtok, d.output_price_per_mtok) == (Decimal("0.56"), Decimal("1.68"))


def test_placeholders_are_filled_or_refused() -> None:
    d = deployment_from_preset("bedrock", "openai.gpt-oss-20b-1:0", region="eu-west-1")
    assert d.base_url == "https://bedrock-runtime.eu-west-1.amazonaws.com/openai/v1"
    with pytest.raises(ValueError, match="--resource"):
        deployment_from_preset("azure-openai", "gpt-4o")
    azure = deployment_from_preset("azure-openai", "gpt-4o", resource="acme")
    assert azure.base_url == "https://acme.openai.azure.com/openai/v1" and azure.auth == "api-key"


def test_anthropic_preset_uses_the_messages_engine() -> None:
    d = deployment_from_preset("anthropic", "claude-sonnet-4-20250514", public_name="claude")
    assert (d.engine, d.auth, d.model) == ("anthropic", "x-api-key", "claude")
    assert d.headers == {"anthropic-version": "2023-06-01"}


def test_unknown_models_are_allowed_without_prices_and_unknown_providers_named() -> None:
    d = deployment_from_preset("ollama", "qwen2.5:7b")
    assert d.locality == "local" and d.input_price_per_mtok is None
    with pytest.raises(LookupError, match=r"known: .*deepseek"):
        provider("nope")


def test_cli_lists_shows_and_adds_from_presets(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["providers", "list"])
    assert listed.exit_code == 0 and "deepseek" in listed.output
    as_json = json.loads(runner.invoke(main, ["providers", "list", "--format", "json"]).output)
    assert {p["key"] for p in as_json} >= REQUIRED
    shown = runner.invoke(main, ["providers", "show", "deepseek"])
    assert "api-docs.deepseek.com/quick_start/pricing" in shown.output
    unknown = runner.invoke(main, ["providers", "show", "nope"])
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output

    data = ["--data-dir", str(tmp_path)]
    added = runner.invoke(
        main,
        [
            "deployments",
            "add",
            "--provider",
            "deepseek",
            "--model",
            "deepseek-chat",
            "--api-key-env",
            "DEEPSEEK_API_KEY",
            *data,
        ],
    )
    assert added.exit_code == 0, added.output
    assert "deepseek-chat@api.deepseek.com" in added.output
    rows = json.loads(
        runner.invoke(main, ["deployments", "list", "--format", "json", *data]).output
    )
    assert [(r["id"], r["source"], r["input_price_per_mtok"]) for r in rows] == [
        ("deepseek-chat@api.deepseek.com", "api", "0.56")
    ]
    again = runner.invoke(
        main, ["deployments", "add", "--provider", "deepseek", "--model", "deepseek-chat", *data]
    )
    assert again.exit_code == 1 and "exists already" in again.output
    missing = runner.invoke(
        main, ["deployments", "add", "--provider", "azure-openai", "--model", "gpt-4o", *data]
    )
    assert missing.exit_code == 1 and "--resource" in missing.output
    custom = runner.invoke(
        main,
        [
            "deployments",
            "add",
            "--model",
            "llama3",
            "--base-url",
            "http://gpu-box:8000/v1",
            "--locality",
            "local",
            "--name",
            "team-llama",
            *data,
        ],
    )
    assert custom.exit_code == 0, custom.output
    removed = runner.invoke(main, ["deployments", "remove", "team-llama@gpu-box:8000", *data])
    assert removed.exit_code == 0, removed.output
    gone = runner.invoke(main, ["deployments", "remove", "team-llama@gpu-box:8000", *data])
    assert gone.exit_code == 2 and gone.output == "Error: No deployment 'team-llama@gpu-box:8000'\n"


def test_per_model_prices_name_their_own_page_and_date() -> None:
    for key, preset in load_catalog().items():
        for model in preset.models:
            if not model.priced or preset.locality != "cloud":
                continue
            read_on, source = preset.price_provenance(model)
            assert read_on and source and source.startswith("https://"), (key, model.id)
            assert all(isinstance(p, Decimal) for p in (model.input, model.output) if p)
    flash = provider("deepseek").model("deepseek-flash")
    assert flash is not None and flash.prices_source and "deepseek.com" in flash.prices_source
    d = deployment_from_preset("deepseek", "deepseek-flash")
    assert (d.input_price_per_mtok, d.cached_input_price_per_mtok) == (
        Decimal("0.3"),
        Decimal("0.006"),
    )
    assert d.currency == "USD" and d.upstream_model == "deepseek-flash"


def test_upstream_model_and_overrides() -> None:
    d = deployment_from_preset(
        "vllm", "qwen", upstream_model="Qwen/Qwen3-8B", base_url="http://gpu:8000/v1", weight=2.0
    )
    assert (d.model, d.target_model, d.base_url, d.weight) == (
        "qwen",
        "Qwen/Qwen3-8B",
        "http://gpu:8000/v1",
        2.0,
    )
    glm = deployment_from_preset("zhipu", "glm-5.3")
    assert glm.currency == "CNY" and glm.output_price_per_mtok == Decimal("28")


def test_facts_cover_the_selection_criteria_with_sources() -> None:
    criteria = {f.criterion for p in load_catalog().values() for f in p.facts}
    assert criteria == {"usability", "scalability", "security_compliance", "ecosystem"}
    anthropic = provider("anthropic")
    assert any("SOC 2" in f.text for f in anthropic.facts)


def test_show_prints_per_model_sources() -> None:
    shown = CliRunner().invoke(main, ["providers", "show", "anthropic"])
    assert shown.exit_code == 0, shown.output
    assert "claude-opus-5: prices read 2026-11-28 from https://platform.claude.com" in shown.output
    assert "SOC 2" in shown.output


@pytest.mark.parametrize(
    ("name", "message"),
    [("PLINTH_ADMIN_KEY", "names a Plinth setting"), ("HOME", "is not allowed")],
)
def test_cli_refuses_key_envs_outside_the_allow_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    monkeypatch.setenv("PLINTH_CONFIG", str(tmp_path / "plinth.toml"))
    data = ["--data-dir", str(tmp_path)]
    upstream = ["--model", "m", "--base-url", "https://evil.example/v1"]
    added = CliRunner().invoke(
        main, ["deployments", "add", *upstream, "--api-key-env", name, *data]
    )
    assert added.exit_code == 1 and message in added.output, added.output
    assert "Traceback" not in added.output
    listed = CliRunner().invoke(main, ["deployments", "list", "--format", "json", *data])
    assert json.loads(listed.output) == []


def test_cli_engine_kinds_come_from_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLINTH_CONFIG", str(tmp_path / "plinth.toml"))
    data = ["--data-dir", str(tmp_path)]

    def add(*args: str) -> Any:
        return CliRunner().invoke(main, ["deployments", "add", *args, *data])

    unknown = add("--model", "m", "--base-url", "http://x.test/v1", "--engine", "nope")
    assert unknown.exit_code == 1 and "unknown engine 'nope'" in unknown.output
    assert "anthropic, llamacpp, openai" in unknown.output
    local = add("--model", "smollm2-135m-instruct", "--engine", "llamacpp", "--locality", "local")
    assert local.exit_code == 0, local.output  # a local engine needs no --base-url
    remote = add("--model", "m", "--engine", "openai")
    assert remote.exit_code == 2 and "--base-url" in remote.output
