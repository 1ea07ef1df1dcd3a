"""Gateway overhead: Plinth vs LiteLLM's proxy vs a bare pass-through, one mock upstream.

    .venv/bin/python benchmarks/gateway_overhead.py              # full run, writes results/
    .venv/bin/python benchmarks/gateway_overhead.py --quick      # smoke run, writes nothing
    .venv/bin/python benchmarks/gateway_overhead.py --profile    # also py-spy Plinth at c=16

Every side fronts the same fixed-latency mock upstream
(``gateway_mock_upstream.py``, its own process) and is driven by the same
closed-loop load generator (this script's ``loadgen`` mode, its own process),
one side at a time so they never share the CPU:

- ``direct``: the load generator straight at the mock — the baseline that
  "added latency" is measured against;
- ``bare``: ``gateway_passthrough.py`` (uvicorn + uvloop + httptools, pooled
  aiohttp; no auth, no parsing, no metering);
- ``plinth``: ``plinth serve`` with one ``openai`` deployment pointing at the
  mock, an admin key, its SQLite ledger and the privacy screen on (default
  ``allow`` policy: detection and audit rows still happen);
- ``litellm``: ``litellm --config … --num_workers 1`` with a master key, from
  ``litellm[proxy]`` installed by this script into its own venv under
  ``~/.cache/plinth-bench/litellm-venv``.

For each side, streaming and not, at each concurrency: requests/s, latency
p50/p99 and the added latency (side minus direct, same concurrency), errors,
and CPU per request of the gateway process (user+system time from /proc over
the measured window ÷ requests completed). The machine's split is reported
too: the mock's and the load generator's CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
LITELLM_VENV = Path.home() / ".cache" / "plinth-bench" / "litellm-venv"
KEY = "sk-bench-gateway-0123456789abcdef"
TICK = os.sysconf("SC_CLK_TCK")
PROMPT = {"role": "user", "content": "Summarise the quarterly report in two sentences, please."}


# --- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and all its descendants, from /proc."""
    total, todo, seen = 0.0, [pid], set()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
        todo += children.get(current, [])
    return total


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            request = urllib.request.Request(url, headers={"authorization": f"Bearer {KEY}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status < 500:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready in {timeout} s")


class Processes:
    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: list[str], env: dict[str, str] | None = None, log: Path | None = None
    ) -> subprocess.Popen[bytes]:
        out = log.open("wb") if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            args,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc)


# --- the sides --------------------------------------------------------------------------


def ensure_litellm() -> Path:
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    print("installing litellm[proxy] into", LITELLM_VENV, "(once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "litellm[proxy]"], check=True)
    return exe


def litellm_version() -> str:
    pip = LITELLM_VENV / "bin" / "pip"
    if not pip.exists():
        return "not installed"
    out = subprocess.run([str(pip), "show", "litellm"], capture_output=True, text=True).stdout
    return next(
        (line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Version")), "?"
    )


def start_side(
    side: str, procs: Processes, upstream: str, work: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / f"{side}.log"
    if side == "bare":
        proc = procs.start(
            [
                PYTHON,
                str(HERE / "gateway_passthrough.py"),
                "--port",
                str(port),
                "--upstream",
                upstream,
            ],
            log=log,
        )
        wait_ready(base + "/v1/models", proc)
    elif side == "plinth":
        config = work / "plinth.toml"
        config.write_text(
            'load_bundled_models = false\nlog_level = "warning"\n\n'
            "[routing]\nhealth_interval_s = 0\n\n"
            f'[[deployments]]\nmodel = "mock-gpt"\nbase_url = "{upstream}/v1"\n'
            'api_key_env = "MOCK_UPSTREAM_KEY"\nlocality = "cloud"\n'
        )
        data = work / "plinth-data"
        shutil.rmtree(data, ignore_errors=True)
        env = {"PLINTH_CONFIG": str(config), "PLINTH_ADMIN_KEY": KEY, "MOCK_UPSTREAM_KEY": "x"}
        proc = procs.start(
            [str(BIN / "plinth"), "serve", "--port", str(port), "--data-dir", str(data)],
            env=env,
            log=log,
        )
        wait_ready(base + "/v1/models", proc)
    elif side == "litellm":
        exe = ensure_litellm()
        config = work / "litellm.yaml"
        config.write_text(
            "model_list:\n  - model_name: mock-gpt\n    litellm_params:\n"
            f"      model: openai/mock-gpt\n      api_base: {upstream}/v1\n      api_key: x\n"
            f"general_settings:\n  master_key: {KEY}\n"
            "litellm_settings:\n  telemetry: false\n  drop_params: true\n"
        )
        env = {
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "true",
        }
        proc = procs.start(
            [str(exe), "--config", str(config), "--port", str(port), "--num_workers", "1"],
            env=env,
            log=log,
        )
        wait_ready(base + "/v1/models", proc, timeout=240)
    else:
        raise ValueError(side)
    return proc, base


# --- load generation (runs in its own process) ------------------------------------------


async def _load(
    url: str, concurrency: int, duration: float, warmup: float, stream: bool
) -> dict[str, Any]:
    import aiohttp

    body = json.dumps(
        {
            "model": "mock-gpt",
            "messages": [PROMPT],
            "max_tokens": 32,
            **({"stream": True} if stream else {}),
        }
    ).encode()
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        measure_from = started + warmup
        end = measure_from + duration

        async def worker() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < end:
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        payload = await response.read()
                        ok = response.status == 200 and (not stream or b"[DONE]" in payload)
                except aiohttp.ClientError:
                    ok = False
                done = time.perf_counter()
                if now >= measure_from and done <= end:
                    if ok:
                        latencies.append(done - now)
                    else:
                        errors += 1

        cpu0 = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        loadgen_cpu = time.process_time() - cpu0
    return {
        "latencies": latencies,
        "errors": errors,
        "duration": duration,
        "loadgen_cpu_s": loadgen_cpu,
    }


def loadgen_main(args: argparse.Namespace) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_load(args.url, args.concurrency, args.duration, args.warmup, args.stream))
    Path(args.out).write_text(json.dumps(result))


@dataclass
class Point:
    side: str
    stream: bool
    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    added_p50_ms: float | None
    added_p99_ms: float | None
    errors: int
    gateway_cpu_ms_per_req: float | None
    mock_cpu_ms_per_req: float
    loadgen_cpu_ms_per_req: float


def measure(
    url: str,
    concurrency: int,
    stream: bool,
    duration: float,
    warmup: float,
    gateway_pid: int | None,
    mock_pid: int,
) -> dict[str, Any]:
    out = Path(tempfile.mkstemp(prefix="gw-load-", suffix=".json")[1])
    cpu_gateway0 = cpu_seconds(gateway_pid) if gateway_pid else 0.0
    cpu_mock0 = cpu_seconds(mock_pid)
    subprocess.run(
        [
            PYTHON,
            __file__,
            "loadgen",
            "--url",
            url,
            "--concurrency",
            str(concurrency),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
            "--out",
            str(out),
        ]
        + (["--stream"] if stream else []),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.read_text())
    out.unlink()
    # CPU is read over warm-up + window; scale it to the measured share of requests.
    total_window = warmup + duration
    result["gateway_cpu_s"] = (
        (cpu_seconds(gateway_pid) - cpu_gateway0) * duration / total_window if gateway_pid else None
    )
    result["mock_cpu_s"] = (cpu_seconds(mock_pid) - cpu_mock0) * duration / total_window
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summarise(
    side: str,
    stream: bool,
    concurrency: int,
    raw: dict[str, Any],
    direct: dict[tuple[bool, int], Point] | None,
) -> Point:
    lat = raw["latencies"]
    n = len(lat)
    p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
    base = direct.get((stream, concurrency)) if direct else None
    per = lambda s: round(s * 1000 / n, 3) if n and s is not None else None  # noqa: E731
    return Point(
        side=side,
        stream=stream,
        concurrency=concurrency,
        requests=n,
        rps=round(n / raw["duration"], 1),
        p50_ms=round(p50, 3),
        p99_ms=round(p99, 3),
        added_p50_ms=round(p50 - base.p50_ms, 3) if base else None,
        added_p99_ms=round(p99 - base.p99_ms, 3) if base else None,
        errors=raw["errors"],
        gateway_cpu_ms_per_req=per(raw["gateway_cpu_s"]),
        mock_cpu_ms_per_req=per(raw["mock_cpu_s"]) or 0.0,
        loadgen_cpu_ms_per_req=per(raw["loadgen_cpu_s"] * raw["duration"] / (raw["duration"]))
        or 0.0,
    )


def profile_plinth(pid: int, url: str, out: Path, procs: Processes) -> None:
    spy = BIN / "py-spy"
    if not spy.exists():
        subprocess.run([str(BIN / "pip"), "install", "-q", "py-spy"], check=True)
    raw = out.with_suffix(".raw")
    recorder = procs.start(
        [
            str(spy),
            "record",
            "-p",
            str(pid),
            "-d",
            "8",
            "-r",
            "250",
            "--gil",
            "-f",
            "raw",
            "-o",
            str(raw),
        ]
    )
    time.sleep(1)
    subprocess.run(
        [
            PYTHON,
            __file__,
            "loadgen",
            "--url",
            url,
            "--concurrency",
            "16",
            "--duration",
            "7",
            "--warmup",
            "0",
            "--out",
            tempfile.mkstemp(prefix="gw-profile-load-", suffix=".json")[1],
        ],
        capture_output=True,
        check=True,
    )
    recorder.wait(30)
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        for frame in {f.split(" (")[0] for f in stack.split(";")}:
            inclusive[frame] = inclusive.get(frame, 0) + n
    top = sorted(inclusive.items(), key=lambda kv: -kv[1])[:60]
    lines = [
        f"# py-spy --gil, Plinth under 16 concurrent non-streamed requests; {total} samples",
        "# inclusive share of GIL-holding samples per function",
        "",
    ]
    lines += [f"{n / total * 100:5.1f}%  {name}" for name, n in top]
    out.write_text("\n".join(lines) + "\n")
    raw.unlink(missing_ok=True)


# --- report -----------------------------------------------------------------------------


def verdicts(points: list[Point]) -> list[str]:
    def get(side: str, stream: bool, c: int) -> Point | None:
        return next(
            (p for p in points if (p.side, p.stream, p.concurrency) == (side, stream, c)), None
        )

    out = []
    for stream in (False, True):
        kind = "streamed" if stream else "non-streamed"
        for c in sorted({p.concurrency for p in points}):
            plinth, litellm, bare = (
                get("plinth", stream, c),
                get("litellm", stream, c),
                get("bare", stream, c),
            )
            if plinth and litellm and litellm.rps:
                ratio = plinth.rps / litellm.rps
                out.append(
                    f"{kind}, c={c}: Plinth {ratio:.2f}× LiteLLM's requests/s (target ≥ 3×): "
                    f"{'pass' if ratio >= 3 else 'FAIL'}"
                )
            if plinth and bare and bare.rps:
                share = plinth.rps / bare.rps
                out.append(
                    f"{kind}, c={c}: Plinth {share:.0%} of the bare pass-through's requests/s "
                    f"(target ≥ 60%): {'pass' if share >= 0.6 else 'FAIL'}"
                )
        one = get("plinth", stream, 1)
        if one and one.added_p50_ms is not None:
            out.append(
                f"{kind}, c=1: Plinth adds {one.added_p50_ms:.2f} ms at p50 (target ≤ 1 ms): "
                f"{'pass' if one.added_p50_ms <= 1 else 'FAIL'}"
            )
    return out


def write_report(points: list[Point], meta: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gateway_overhead.json").write_text(
        json.dumps({"meta": meta, "points": [asdict(p) for p in points]}, indent=2) + "\n"
    )
    lines = ["# Gateway overhead: Plinth vs LiteLLM proxy vs bare pass-through", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [
        "",
        "| side | stream | c | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | "
        "gateway CPU ms/req | mock CPU ms/req | loadgen CPU ms/req | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in points:
        lines.append(
            f"| {p.side} | {'yes' if p.stream else 'no'} | {p.concurrency} | {p.rps} | "
            f"{p.p50_ms} | "
            f"{p.p99_ms} | {p.added_p50_ms if p.added_p50_ms is not None else '–'} | "
            f"{p.added_p99_ms if p.added_p99_ms is not None else '–'} | "
            f"{p.gateway_cpu_ms_per_req if p.gateway_cpu_ms_per_req is not None else '–'} | "
            f"{p.mock_cpu_ms_per_req} | {p.loadgen_cpu_ms_per_req} | {p.errors} |"
        )
    lines += ["", "## Targets", ""] + [f"- {v}" for v in verdicts(points)]
    (out_dir / "gateway_overhead.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    lg = sub.add_parser("loadgen")
    lg.add_argument("--url", required=True)
    lg.add_argument("--concurrency", type=int, required=True)
    lg.add_argument("--duration", type=float, required=True)
    lg.add_argument("--warmup", type=float, default=1.0)
    lg.add_argument("--stream", action="store_true")
    lg.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--sides", default="plinth,litellm,bare")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="2 s points; results go to a temp dir")
    parser.add_argument("--profile", action="store_true", help="py-spy Plinth at c=16")
    args = parser.parse_args()
    if args.mode == "loadgen":
        loadgen_main(args)
        return
    if args.quick:
        args.duration, args.warmup = 2.0, 0.5
    levels = [int(c) for c in args.concurrency.split(",")]
    sides = [s for s in args.sides.split(",") if s]
    out_dir = Path(tempfile.mkdtemp(prefix="gw-quick-")) if args.quick else RESULTS
    procs = Processes()
    work = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    points: list[Point] = []
    try:
        mock_port = free_port()
        upstream = f"http://127.0.0.1:{mock_port}"
        mock = procs.start(
            [
                PYTHON,
                str(HERE / "gateway_mock_upstream.py"),
                "--port",
                str(mock_port),
                "--latency-ms",
                str(args.latency_ms),
            ],
            log=work / "mock.log",
        )
        wait_ready(upstream + "/v1/models", mock)
        direct: dict[tuple[bool, int], Point] = {}
        for stream in (False, True):
            for c in levels:
                raw = measure(
                    upstream + "/v1/chat/completions",
                    c,
                    stream,
                    args.duration,
                    args.warmup,
                    None,
                    mock.pid,
                )
                point = summarise("direct", stream, c, raw, None)
                direct[(stream, c)] = point
                points.append(point)
                print(
                    f"direct   stream={stream!s:5} c={c:3} {point.rps:8.1f} req/s "
                    f"p50 {point.p50_ms} ms",
                    flush=True,
                )
        for side in sides:
            try:
                proc, base = start_side(side, procs, upstream, work)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other sides
                print(f"{side}: could not start ({exc}); see {work / (side + '.log')}", flush=True)
                continue
            url = base + "/v1/chat/completions"
            for stream in (False, True):
                for c in levels:
                    raw = measure(url, c, stream, args.duration, args.warmup, proc.pid, mock.pid)
                    point = summarise(side, stream, c, raw, direct)
                    points.append(point)
                    print(
                        f"{side:8} stream={stream!s:5} c={c:3} {point.rps:8.1f} req/s "
                        f"p50 {point.p50_ms} ms (+{point.added_p50_ms}) "
                        f"cpu {point.gateway_cpu_ms_per_req} ms/req errors {point.errors}",
                        flush=True,
                    )
            if side == "plinth" and args.profile:
                profile_plinth(proc.pid, url, out_dir / "gateway_overhead_profile.txt", procs)
            procs.stop(proc)
    finally:
        procs.stop_all()
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "litellm": litellm_version(),
        "mock upstream latency": f"{args.latency_ms} ms",
        "points": f"{args.duration} s measured after {args.warmup} s warm-up, closed loop",
        "command": "python benchmarks/gateway_overhead.py " + " ".join(sys.argv[1:]),
    }
    write_report(points, meta, out_dir)
    print("\n".join(verdicts(points)))
    print("wrote", out_dir / "gateway_overhead.md")


if __name__ == "__main__":
    main()
