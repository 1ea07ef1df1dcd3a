"""Two ``plinth serve`` replicas on PostgreSQL + Redis, one budget, one rate limit.

The issue's scale-out test: ≥ 200 concurrent requests split across two real
replica processes, at a key whose budget allows exactly N. Both replicas share
a fresh PostgreSQL database and the machine's Redis; the upstream is a fake
one on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import eventually, free_port, wait_until_healthy

from upstreamfake import FakeUpstream

psycopg = pytest.importorskip("psycopg")

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN = "sk-plinth-replicas-admin-0123456789"
N = 37  # requests the budget allows
RESERVATION_TTL_S = 8
PER_REQUEST = "0.001"


def skip_unless_reachable(host: str, port: int, what: str) -> None:
    """Skip, as tests/store/test_databases.py does, where the shared service is not running."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"{what} is not reachable at {host}:{port}: {exc}")


@pytest.fixture
def database() -> Iterator[str]:
    skip_unless_reachable("127.0.0.1", 5432, "PostgreSQL")
    skip_unless_reachable("127.0.0.1", 6379, "Redis")
    name = "plinth_e2e_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_replica(
    tmp: Path, index: int, db_url: str, config: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PLINTH_DATABASE_URL": db_url,
        "PLINTH_REDIS_URL": REDIS_URL,
        "PLINTH_ADMIN_KEY": ADMIN,
        "PLINTH_CONFIG": str(config),
        "PLINTH_PRIVACY__AUDIT_KEY": "shared-audit-key-for-both-replicas",
        "PLINTH_BILLING__RESERVATION_TTL_S": str(RESERVATION_TTL_S),
    }
    log = (tmp / f"replica{index}.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "plinth",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(tmp / f"data{index}"),
    ]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(process, base, tmp / f"replica{index}.log", within_s=60)
    return process, base


@pytest.fixture
def replicas(
    tmp_path: Path, database: str
) -> Iterator[tuple[list[str], FakeUpstream, list[subprocess.Popen[bytes]]]]:
    with FakeUpstream() as up:
        config = tmp_path / "plinth.toml"
        config.write_text(
            'load_bundled_models = false\nlog_level = "warning"\n'
            "[routing]\nhealth_interval_s = 0\n"
            f'[[deployments]]\nmodel = "gpt-fake"\nbase_url = "{up.base_url}"\n'
        )
        processes: list[subprocess.Popen[bytes]] = []
        try:
            first, base1 = start_replica(tmp_path, 1, database, config)  # migrates the database
            processes.append(first)
            second, base2 = start_replica(tmp_path, 2, database, config)
            processes.append(second)
            yield [base1, base2], up, processes
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()


def admin(base: str, method: str, path: str, **body: object) -> dict[str, object]:
    response = httpx.request(
        method,
        base + path,
        json=body or None,
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    assert response.status_code < 300, response.text
    return dict(response.json())


async def fire(bases: list[str], key: str, count: int) -> list[httpx.Response]:
    body = {
        "model": "gpt-fake",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi there"}],
    }
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post(
                    bases[i % 2] + "/v1/chat/completions",
                    json=body,
                    headers={"authorization": f"Bearer {key}"},
                )
                for i in range(count)
            )
        )


@pytest.mark.e2e
def test_a_budget_for_n_requests_admits_exactly_n_across_replicas(
    replicas: tuple[list[str], FakeUpstream, list[subprocess.Popen[bytes]]],
) -> None:
    bases, up, _ = replicas
    admin(bases[0], "POST", "/admin/tenants", name="acme")
    key = admin(bases[0], "POST", "/admin/keys", name="burst", tenant="acme")
    admin(bases[0], "POST", "/admin/prices", model="gpt-fake", per_request=PER_REQUEST)
    budget = f"{N * 0.001:.3f}"
    admin(bases[1], "PUT", f"/admin/limits/key:{key['id']}", spend=budget, spend_period="total")

    responses = asyncio.run(fire(bases, str(key["key"]), 200))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == N, sorted(set(codes))
    assert codes.count(402) == 200 - N
    assert len(up.generation_requests()) == N  # refused requests never left
    served = {r.headers.get("x-request-id") for r in responses}

    def ledger() -> dict[str, dict[str, Any]]:
        rows = [
            r
            for base in bases
            for r in admin(base, "GET", "/admin/usage/requests?limit=10000")["data"]  # type: ignore[attr-defined]
            if r["key_id"] == key["id"]
        ]
        return {r["request_id"]: r for r in rows}

    # A refused request's row may still be in its replica's writer queue.
    by_id = eventually(ledger, lambda rows: len(rows) >= 200, within_s=10, what="200 rows")
    assert set(by_id) == served and len(by_id) == 200  # one ledger row per request
    spent = sum(r["cost_micros"] for r in by_id.values())
    assert spent == N * 1000 <= int(float(budget) * 1_000_000)


@pytest.mark.e2e
def test_requests_per_minute_hold_across_replicas(
    replicas: tuple[list[str], FakeUpstream, list[subprocess.Popen[bytes]]],
) -> None:
    bases, _, _ = replicas
    for _ in range(2):  # a burst that straddled a minute boundary is redone with a fresh key
        key = admin(bases[0], "POST", "/admin/keys", name="limited")
        admin(bases[0], "PUT", f"/admin/limits/key:{key['id']}", requests_per_minute=30)
        window = int(time.time() // 60)
        codes = [r.status_code for r in asyncio.run(fire(bases, str(key["key"]), 60))]
        if int(time.time() // 60) == window:  # every request fell in one minute window
            break
    else:
        pytest.fail("two bursts in a row straddled a minute boundary")
    assert codes.count(200) == 30 and codes.count(429) == 30


async def load_then_kill(base: str, key: str, victim: subprocess.Popen[bytes]) -> list[str]:
    """120 concurrent requests; SIGKILL the replica once 20 answers are in.

    Returns the request ids of the responses that arrived whole.
    """
    body = {"model": "gpt-fake", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    received: list[str] = []
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=120)) as client:

        async def one() -> None:
            try:
                response = await client.post(
                    base + "/v1/chat/completions",
                    json=body,
                    headers={"authorization": f"Bearer {key}"},
                )
                if response.status_code == 200 and response.json()["choices"]:
                    received.append(response.headers["x-request-id"])
            except (httpx.HTTPError, ValueError):
                pass  # cut off by the kill: not a response the client received

        tasks = [asyncio.create_task(one()) for _ in range(120)]
        while len(received) < 20 and not all(t.done() for t in tasks):
            await asyncio.sleep(0.002)
        victim.send_signal(signal.SIGKILL)
        await asyncio.gather(*tasks)
    return received


@pytest.mark.e2e
def test_sigkill_under_load_loses_no_received_response_and_frees_its_reservations(
    replicas: tuple[list[str], FakeUpstream, list[subprocess.Popen[bytes]]],
    tmp_path: Path,
    database: str,
) -> None:
    from upstreamfake import Fault

    bases, up, processes = replicas
    busy = admin(bases[1], "POST", "/admin/keys", name="busy")
    admin(bases[1], "PUT", f"/admin/limits/key:{busy['id']}", max_concurrent=3)
    loaded = admin(bases[1], "POST", "/admin/keys", name="loaded")

    # Three slow requests hold all of "busy"'s slots on replica 1.
    up.push(Fault.latency(60), Fault.latency(60), Fault.latency(60))
    body = {"model": "gpt-fake", "max_tokens": 5, "messages": [{"role": "user", "content": "slow"}]}

    def hang() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                bases[0] + "/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {busy['key']}"},
                timeout=90,
            )

    for _ in range(3):
        threading.Thread(target=hang, daemon=True).start()

    def ask_busy() -> int:
        return httpx.post(
            bases[1] + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {busy['key']}"},
            timeout=30,
        ).status_code

    try:
        eventually(
            up.generation_requests, lambda seen: len(seen) == 3, within_s=10, what="3 slow requests"
        )
        reserved_at = time.monotonic()  # the slow requests' slots were taken just before
        assert ask_busy() == 429  # replica 2 sees replica 1's three slots taken

        received = asyncio.run(load_then_kill(bases[0], str(loaded["key"]), processes[0]))
        assert processes[0].wait(10) == -signal.SIGKILL
        assert received, "no response arrived before the kill"
        # A received response's row is in PostgreSQL or in the killed replica's
        # journal (its data dir): restarted there, the replica replays the journal.
        processes[0], bases[0] = start_replica(tmp_path, 1, database, tmp_path / "plinth.toml")
        for request_id in received:  # every response received whole has its ledger row
            row = httpx.get(  # asked of the restarted replica: it flushes its queue first
                f"{bases[0]}/admin/usage/requests/{request_id}",
                headers={"authorization": f"Bearer {ADMIN}"},
            )
            assert row.status_code == 200, request_id

        # Replica 1 is dead: nothing will ever settle its three requests. Their
        # reservations stop counting when they expire: that expiry, in Redis, is
        # what is under test, so the test lets the TTL pass (not a synchronisation).
        time.sleep(max(0.0, reserved_at + RESERVATION_TTL_S + 0.5 - time.monotonic()))
        assert ask_busy() == 200
    finally:
        up.stop()  # ends the three hanging requests
