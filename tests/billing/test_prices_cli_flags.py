"""``plinth prices set``: batch discount, pass-through unit prices, cache-hit price."""

from __future__ import annotations

import json
from pathlib import Path

from plinth.billing.prices import PriceBook
from plinth.cli.common import open_db


def test_every_price_field_is_settable_and_priced(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = run(
        "prices", "set", "gpt-x", "--input", "2", "--cached-input", "0.5",
        "--batch-discount", "50", "--per-audio-second", "0.0001",
        "--per-1k-characters", "0.015", "--per-image", "0.04", "--per-search-unit", "0.002",
        "--cache-hit", "0.0005",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "'cache_hit:gpt-x' (a cache hit)" in done.output
    rows = {r["model"]: r for r in json.loads(run("prices", "list", "--format", "json").output)}
    row = rows["gpt-x"]
    assert row["batch_discount_percent"] == 50 and row["cached_input_per_mtok"] == "0.5"
    assert (row["per_audio_second"], row["per_1k_characters"]) == ("0.0001", "0.015")
    assert (row["per_image"], row["per_search_unit"]) == ("0.04", "0.002")
    assert rows["cache_hit:gpt-x"]["per_request"] == "0.0005"

    book = PriceBook(open_db(tmp_path))
    price = book.price_for("gpt-x")
    assert price is not None
    assert price.batch_cost(1_000) == 500
    assert price.unit_cost("character", 1_500) == 22_500  # 0.015 per 1,000
    assert price.unit_cost("image", 2) == 80_000
    assert price.unit_cost("audio_second", 10) == 1_000
    assert price.unit_cost("search_unit", 3) == 6_000
    # 1M prompt tokens of which 1M cached: all at the cached rate.
    assert price.cost(1_000_000, 0, 1_000_000) == 500_000
    hit = book.price_for("cache_hit:gpt-x")
    assert hit is not None and hit.cost(100, 100) == 500


def test_a_price_set_without_the_new_flags_leaves_them_at_zero(run) -> None:  # type: ignore[no-untyped-def]
    assert run("prices", "set", "m", "--input", "1").exit_code == 0
    rows = {r["model"]: r for r in json.loads(run("prices", "list", "--format", "json").output)}
    assert rows["m"]["batch_discount_percent"] == 0 and rows["m"]["per_image"] == "0"
    assert "cache_hit:m" not in rows  # no hit price: hits stay free


def test_bad_values_are_usage_errors(run) -> None:  # type: ignore[no-untyped-def]
    for flags in (
        ["--batch-discount", "101"],
        ["--batch-discount", "-1"],
        ["--batch-discount", "half"],
        ["--per-image", "-0.01"],
        ["--per-1k-characters", "lots"],
        ["--per-search-unit", "1e40"],
        ["--cache-hit", "-1"],
    ):
        refused = run("prices", "set", "m", *flags)
        assert refused.exit_code == 2, (flags, refused.output)
    refused = run("prices", "set", "cache_hit:m", "--cache-hit", "0.1")
    assert refused.exit_code == 2 and "served model" in refused.output
    assert json.loads(run("prices", "list", "--format", "json").output) == []
