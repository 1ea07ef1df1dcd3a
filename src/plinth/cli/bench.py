"""``plinth bench run|list|show|workloads``: the selection bench."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiohttp
import click
from pydantic import ValidationError
from tqdm import tqdm

from plinth.bench import analysis, report, runner
from plinth.bench.config import CRITERIA, BenchConfig, load_config
from plinth.bench.rag import RagSetupError
from plinth.bench.store import BenchStore, new_run_id
from plinth.bench.workloads import BUILTIN, load_workload
from plinth.cli.common import data_dir_option, open_db, print_json, print_table


@click.group()
def bench() -> None:
    """Measure candidate models on a workload and rank them (selection bench)."""


def _floats(text: str | None) -> list[float] | None:
    return None if text is None else [float(v) for v in text.split(",") if v.strip()]


def _merge_flags(data: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """Flags override the config file; ``--model`` adds candidates on this Plinth."""
    for key in ("name", "base_url", "api_key", "max_tokens", "monthly_requests"):
        if flags[key] is not None:
            data[key] = flags[key]
    if flags["judge"]:
        data["judge"] = {"model": flags["judge"]}
    if flags["workload"]:
        data["workloads"] = list(flags["workload"])
    candidates = list(data.get("candidates", []))
    candidates += [{"name": m, "model": m} for m in flags["model"]]
    data["candidates"] = candidates
    profile = dict(data.get("profile", {}))
    if flags["profile"]:
        profile["kind"] = flags["profile"]
    if flags["concurrency"]:
        profile["concurrency"] = [int(v) for v in _floats(flags["concurrency"]) or []]
    if flags["rate"]:
        profile["rates"] = _floats(flags["rate"])
    if flags["requests"]:
        profile["requests"] = flags["requests"]
    data["profile"] = profile
    slo = dict(data.get("slo", {}))
    for key in ("ttft_s", "tpot_s", "e2e_s"):
        if flags[f"slo_{key}"] is not None:
            slo[key] = flags[f"slo_{key}"]
    data["slo"] = slo
    weights = dict(data.get("weights", {}))
    for item in flags["weight"]:
        criterion, _, value = item.partition("=")
        weights[criterion] = float(value)
    if weights:
        data["weights"] = weights
    return data


@bench.command()
@click.option("--config", "config_path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", default=None, help="A label for the run.")
@click.option(
    "--url",
    "base_url",
    default=None,
    help="This Plinth's /v1 URL [default: $PLINTH_BASE_URL, else $OPENAI_BASE_URL, "
    "else http://127.0.0.1:8000/v1].",
)
@click.option(
    "--key",
    "api_key",
    default=None,
    help="API key [default: $PLINTH_API_KEY, else $OPENAI_API_KEY].",
)
@click.option("--model", multiple=True, help="A model name on this Plinth (repeatable).")
@click.option("--workload", multiple=True, help="Built-in task set or JSONL path (repeatable).")
@click.option("--profile", type=click.Choice(["sequential", "concurrency", "poisson"]))
@click.option("--concurrency", default=None, help="Comma-separated, e.g. 1,2,4.")
@click.option("--rate", default=None, help="Poisson rates in req/s, comma-separated.")
@click.option("--requests", type=int, default=None, help="Requests per point.")
@click.option("--max-tokens", type=int, default=None)
@click.option("--slo-ttft", "slo_ttft_s", type=float, default=None, help="Seconds.")
@click.option("--slo-tpot", "slo_tpot_s", type=float, default=None, help="Seconds.")
@click.option("--slo-e2e", "slo_e2e_s", type=float, default=None, help="Seconds.")
@click.option("--weight", multiple=True, help=f"criterion=weight; criteria: {', '.join(CRITERIA)}.")
@click.option("--judge", default=None, help="A model on this Plinth that grades replies 0–10.")
@click.option("--monthly-requests", type=int, default=None, help="Volume for the TCO.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write report.html, report.md and report.json here.",
)
@data_dir_option
def run(config_path: Path | None, out: Path | None, data_dir: Path | None, **flags: Any) -> None:
    """Run a bench against the HTTP API, store it, and print the ranking."""
    data = load_config(config_path) if config_path else {}
    _flags_from_env(data, flags)
    try:
        config = BenchConfig.model_validate(_merge_flags(data, flags))
        workloads = [load_workload(name) for name in config.workloads]
    except (ValidationError, ValueError) as exc:
        raise click.ClickException(f"invalid bench config: {exc}") from None
    if not config.candidates:
        raise click.ClickException("no candidates: give --model or candidates in --config")
    store = BenchStore(open_db(data_dir))
    run_id = new_run_id()
    stored_config = config.model_dump(mode="json", exclude={"api_key"})
    for part in [*stored_config["candidates"], stored_config.get("judge") or {}]:
        part.pop("api_key", None)  # keys never go into the database
    store.start(run_id, config.name, stored_config)
    with tqdm(total=runner.total_requests(config, workloads), unit="req") as bar:
        try:
            points = runner.run(config, tick=lambda: bar.update(1))
        except (RagSetupError, aiohttp.ClientError, OSError) as exc:
            store.finish(run_id, [], None, status="failed")
            raise click.ClickException(f"bench run {run_id} failed: {exc}") from None
        except BaseException:
            store.finish(run_id, [], None, status="failed")
            raise
    refusal = _unusable_run(config, points)
    if refusal is not None:
        store.finish(run_id, points, None, status="failed")
        raise click.ClickException(f"bench run {run_id} failed: {refusal}")
    summary = analysis.analyse(config, points)
    store.finish(run_id, points, summary)
    click.echo(f"run {run_id}")
    _print_ranking(summary)
    if out is not None:
        _write_reports(store, run_id, out)
        click.echo(f"reports in {out}")


def _flags_from_env(data: dict[str, Any], flags: dict[str, Any]) -> None:
    """Key and URL from the environment when neither a flag nor the config gives them.

    Plinth's own variables first, then the OpenAI SDK's, which the README's
    Quickstart exports: a bench run in that shell talks to the same server.
    """
    if flags["api_key"] is None and "api_key" not in data:
        flags["api_key"] = os.environ.get("PLINTH_API_KEY") or os.environ.get("OPENAI_API_KEY")
    if flags["base_url"] is None and "base_url" not in data:
        flags["base_url"] = os.environ.get("PLINTH_BASE_URL") or os.environ.get("OPENAI_BASE_URL")


#: Failures that say the bench could not measure anything meaningful: the
#: server refused the key or could not be reached. A ranking built on them
#: would recommend a model nobody measured.
_FATAL_MARKS = ("HTTP 401", "HTTP 403", "ClientConnectorError", "ServerDisconnected")


def _unusable_run(config: BenchConfig, points: list[runner.PointResult]) -> str | None:
    """Why this run's results must not be ranked, or ``None`` when they may be."""
    records = [r for p in points for r in p.records]
    failed = [r for r in records if r.error is not None]
    fatal = [r for r in failed if any(mark in (r.error or "") for mark in _FATAL_MARKS)]
    if fatal:
        hint = (
            "check the key (--key, $PLINTH_API_KEY or $OPENAI_API_KEY)"
            if any("HTTP 40" in (r.error or "") for r in fatal)
            else f"check that a Plinth is listening at {config.base_url}"
            " (--url, $PLINTH_BASE_URL or $OPENAI_BASE_URL)"
        )
        return f"{len(fatal)} of {len(records)} requests failed ({fatal[0].error}); {hint}"
    if records and len(failed) == len(records):
        return f"every request failed, e.g. {failed[0].error}"
    return None


def _print_ranking(summary: dict[str, Any]) -> None:
    rows = [
        {"rank": i, "candidate": r["candidate"], "total": f"{r['total']:.3f}"}
        | {c: f"{r['scores'][c]:.2f}" for c in CRITERIA}
        for i, r in enumerate(summary["matrix"], 1)
    ]
    print_table(rows, ["rank", "candidate", "total", *CRITERIA])
    click.echo(summary["sensitivity"]["note"])


def _write_reports(store: BenchStore, run_id: str, out: Path) -> None:
    stored = store.get(run_id, with_records=True)
    assert stored is not None
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(report.render_html(stored), "utf-8")
    (out / "report.md").write_text(report.render_markdown(stored), "utf-8")
    (out / "report.json").write_text(report.render_json(stored), "utf-8")


@bench.command("list")
@click.option("--json", "as_json", is_flag=True)
@data_dir_option
def list_runs(as_json: bool, data_dir: Path | None) -> None:
    """Stored bench runs, newest first."""
    rows = BenchStore(open_db(data_dir)).list()
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "name", "status", "created_at", "requests", "recommendation"])


@bench.command()
@click.argument("run_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown", "html"]),
    default="table",
    show_default=True,
)
@click.option("--records", is_flag=True, help="Include the raw per-request records (json).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@data_dir_option
def show(run_id: str, fmt: str, records: bool, out: Path | None, data_dir: Path | None) -> None:
    """One stored run: summary, ranking, or a full report."""
    stored = BenchStore(open_db(data_dir)).get(run_id, with_records=records)
    if stored is None:
        raise click.ClickException(f"no bench run '{run_id}'")
    if stored["summary"] is None:
        raise click.ClickException(f"run '{run_id}' has no summary (status {stored['status']})")
    if fmt == "table":
        _print_ranking(stored["summary"])
        return
    render = {
        "json": report.render_json,
        "markdown": report.render_markdown,
        "html": report.render_html,
    }[fmt]
    text = render(stored)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, "utf-8")


@bench.command()
def workloads() -> None:
    """The built-in task sets."""
    for name, description in BUILTIN.items():
        click.echo(f"{name:16} {description}")
