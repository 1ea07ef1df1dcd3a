"""What the upstream HTTP client costs per proxied request: CPU of the client's
process for one non-streamed chat call, aiohttp vs httpx vs Plinth's lean client.

    .venv/bin/python benchmarks/upstream_client_cost.py            # results/upstream_client_cost.md
    .venv/bin/python benchmarks/upstream_client_cost.py --rounds 1 --duration 1 --out-dir /tmp/x

The mock upstream (``gateway_mock_upstream.py``, its own process, 10 ms to
answer) serves every client. Each client runs in its own fresh process (so
one's garbage and caches do not bill the next), closed loop, c concurrent
calls for ``--duration`` s after a warm-up; its CPU (user+system,
``time.process_time``) over the measured window ÷ calls completed is the
figure. Rounds interleave the clients in a rotating order, so the drift of a
shared machine falls on all of them; the table gives the median and the
spread (min–max) over rounds.

Clients:

- ``plinth-lean``: ``UpstreamClient.post_json`` as the gateway calls it (the
  lean client: ``plinth/engines/lean_http.py``; JSON encoding, timeouts,
  status and content-type checks, JSON decoding included);
- ``plinth-aiohttp``: the same method on its aiohttp path (the client Plinth
  used before, configured as it was: no cookie jar, no User-Agent, one
  pooled session);
- ``httpx``: ``httpx.AsyncClient`` (pooled, keep-alive), posting the same
  bytes and decoding the JSON, for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gateway_overhead import Processes, free_port, wait_ready  # noqa: E402

CLIENTS = ["plinth-lean", "plinth-aiohttp", "httpx"]
BODY = {
    "model": "mock-gpt",
    "messages": [{"role": "user", "content": "Summarise the quarterly report, please."}],
    "max_tokens": 32,
}


async def _calls(client: str, url: str, concurrency: int, duration: float, warmup: float) -> Json:
    from plinth.deployment import Deployment
    from plinth.engines.upstream_http import UpstreamClient

    done = 0
    if client.startswith("plinth"):
        upstream = UpstreamClient(Deployment(model="m", engine="openai", base_url=url), {})
        if client == "plinth-aiohttp":
            upstream._lean = None  # the aiohttp path of post_json

        async def call() -> None:
            answer = await upstream.post_json("/chat/completions", BODY)
            assert answer["choices"]

        close: Any = upstream.close
    else:
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        session = httpx.AsyncClient(limits=limits, timeout=60)
        data = json.dumps(BODY).encode()

        async def call() -> None:
            response = await session.post(
                url + "/chat/completions",
                content=data,
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 200 and json.loads(response.content)["choices"]

        close = session.aclose
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + warmup
    end = measure_from + duration
    cpu: list[float] = []

    async def window() -> None:
        await asyncio.sleep(warmup)
        cpu.append(time.process_time())
        start_count = done
        await asyncio.sleep(duration)
        cpu.append(time.process_time())
        counts.append(done - start_count)

    counts: list[int] = []

    async def worker() -> None:
        nonlocal done
        while loop.time() < end:
            await call()
            done += 1

    await asyncio.gather(window(), *(worker() for _ in range(concurrency)))
    await close()
    calls = counts[0]
    return {"calls": calls, "cpu_ms_per_call": (cpu[1] - cpu[0]) * 1000 / max(1, calls)}


Json = dict[str, Any]


def child_main(args: argparse.Namespace) -> None:
    import uvloop

    uvloop.install()
    result = asyncio.run(
        _calls(args.client, args.url, args.concurrency, args.duration, args.warmup)
    )
    print(json.dumps(result))


def run_client(client: str, url: str, c: int, duration: float, warmup: float) -> Json:
    command = [sys.executable, __file__, "child", "--client", client, "--url", url]
    command += ["--concurrency", str(c), "--duration", str(duration), "--warmup", str(warmup)]
    out = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    child = sub.add_parser("child")
    child.add_argument("--client", required=True)
    child.add_argument("--url", required=True)
    child.add_argument("--concurrency", type=int, required=True)
    child.add_argument("--duration", type=float, required=True)
    child.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.mode == "child":
        child_main(args)
        return
    clients = args.clients.split(",")
    levels = [int(c) for c in args.concurrency.split(",")]
    procs = Processes()
    results: dict[tuple[str, int], list[Json]] = {}
    work = Path(tempfile.mkdtemp(prefix="client-cost-"))
    try:
        port = free_port()
        mock = procs.start(
            [sys.executable, str(HERE / "gateway_mock_upstream.py"), "--port", str(port)],
            log=work / "mock.log",
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/v1/models", mock)
        for round_no in range(args.rounds):
            for c in levels:
                shift = round_no % len(clients)
                for client in clients[shift:] + clients[:shift]:
                    result = run_client(client, base + "/v1", c, args.duration, args.warmup)
                    results.setdefault((client, c), []).append(result)
                    print(
                        f"round {round_no + 1} {client:15} c={c:3} {result['calls']:6} calls "
                        f"{result['cpu_ms_per_call']:.3f} ms CPU/call",
                        flush=True,
                    )
    finally:
        procs.stop_all()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "# Upstream client cost: CPU per non-streamed call, by HTTP client",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} cores; load average at the end: {load}",
        f"- command: .venv/bin/python benchmarks/upstream_client_cost.py "
        f"{' '.join(sys.argv[1:])}".rstrip(),
        f"- rounds: {args.rounds}, {args.duration} s measured after {args.warmup} s warm-up,"
        " the clients in a rotating order",
        "",
        "See the script's docstring for what each client runs. CPU = the client process's",
        "user+system time over the window ÷ calls; median (min–max) over the rounds.",
        "",
        "| client | c | calls/s median | CPU ms/call median (min–max) | vs plinth-aiohttp |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in levels:
        base_cpu = None
        if ("plinth-aiohttp", c) in results:
            base_cpu = statistics.median(
                r["cpu_ms_per_call"] for r in results[("plinth-aiohttp", c)]
            )
        for client in clients:
            runs = results[(client, c)]
            cpus = [r["cpu_ms_per_call"] for r in runs]
            rate = statistics.median(r["calls"] for r in runs) / args.duration
            med = statistics.median(cpus)
            ratio = f"{med / base_cpu:.2f}×" if base_cpu else "–"
            lines.append(
                f"| {client} | {c} | {rate:.0f} | {med:.3f} ({min(cpus):.3f}–{max(cpus):.3f})"
                f" | {ratio} |"
            )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "upstream_client_cost.md").write_text("\n".join(lines) + "\n")
    (args.out_dir / "upstream_client_cost.json").write_text(
        json.dumps({f"{k[0]} c={k[1]}": v for k, v in results.items()}, indent=1) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
