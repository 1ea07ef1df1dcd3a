"""Bench reports in the console: starting a run (validation, key lifecycle), scoping, sources."""

from __future__ import annotations

import asyncio

from conftest import Console
from plinth.bench import matrix
from plinth.bench.config import DEFAULT_WEIGHTS, Candidate
from plinth.console import bench_reports


def _measured(name: str, locality: str | None) -> matrix.Measured:
    candidate = Candidate(name=name, model=name, locality=locality, privacy_policy="redact")  # type: ignore[arg-type]
    return matrix.Measured(candidate, 0.5, 1.0, 10.0, "USD")


def test_a_local_candidate_scores_security_from_its_locality_with_the_source() -> None:
    rows = matrix.score([_measured("here", "local"), _measured("there", "cloud")], DEFAULT_WEIGHTS)
    by_name = {r.candidate: r for r in rows}
    assert by_name["here"].scores["security_compliance"] == 1.0
    assert by_name["here"].sources["security_compliance"] == "local deployment"
    assert "never leave" in by_name["here"].reasons["security_compliance"][0]
    assert "redact" in by_name["here"].reasons["security_compliance"][0]
    assert by_name["there"].scores["security_compliance"] == 0.0
    assert by_name["there"].sources["security_compliance"] == "provider catalog"
    assert by_name["there"].sources["performance"] == "measured in this run"


def _wait_for_runs(console: Console) -> None:
    async def finished() -> None:
        await asyncio.gather(*list(bench_reports._tasks))

    console.client.portal.call(finished)  # type: ignore[union-attr]


def test_start_run_validates_and_a_failed_run_is_stored_and_its_key_revoked(
    console: Console,
) -> None:
    console.setup_admin()
    page = console.client.get("/console/bench")
    assert page.status_code == 200 and 'value="gpt-fake"' in page.text
    assert 'value="rag_qa"' not in page.text
    none = console.post("/console/bench", {"workload": "short_chat"})
    assert none.status_code == 400 and "Choose 1 to" in none.text  # type: ignore[attr-defined]
    unknown = console.post("/console/bench", {"workload": "short_chat", "models": "nope"})
    assert unknown.status_code == 400  # type: ignore[attr-defined]
    many = console.post(
        "/console/bench", {"workload": "short_chat", "models": "gpt-fake", "requests": "99"}
    )
    assert many.status_code == 400  # type: ignore[attr-defined]
    # The test client serves no socket: the bench client cannot reach /v1 and the run fails.
    started = console.post(
        "/console/bench", {"workload": "short_chat", "models": "gpt-fake", "requests": "1"}
    )
    assert started.status_code == 303  # type: ignore[attr-defined]
    run_path = started.headers["location"]  # type: ignore[attr-defined]
    _wait_for_runs(console)
    run = console.client.get(run_path)
    assert run.status_code == 200 and 'data-status="failed"' in run.text
    progress = console.client.get(run_path + "/progress").json()
    assert progress["status"] == "failed" and progress["total"] == 1
    svc = console.client.app.state.services  # type: ignore[attr-defined]
    keys = [k for k in svc.keys.list() if k.name.startswith("console bench ")]
    assert len(keys) == 1 and not keys[0].active
    assert console.client.get(run_path + "/report").status_code == 404  # no summary
    # The run's key goes to this server's socket, never where a Host header points.
    token = console.csrf("/console/bench")
    form = {"csrf": token, "workload": "short_chat", "models": "gpt-fake", "requests": "1"}
    forged = console.client.post(
        "/console/bench", data=form, headers={"host": "evil.example"}, follow_redirects=False
    )
    assert forged.status_code == 303
    _wait_for_runs(console)
    run_id = forged.headers["location"].rsplit("/", 1)[1]
    stored = bench_reports.BenchStore(svc.db.engine).get(run_id)
    assert stored is not None and "evil.example" not in stored["config"]["base_url"]


def test_unknown_runs_are_404(console: Console) -> None:
    console.setup_admin()
    assert console.client.get("/console/bench/run_nope").status_code == 404
    assert console.client.get("/console/bench/run_nope/report").status_code == 404
