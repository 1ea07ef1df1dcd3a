"""Gateway overhead: Plinth vs LiteLLM's proxy vs a bare pass-through, one mock upstream.

    .venv/bin/python benchmarks/gateway_overhead.py              # full run (~5 min), results/
    .venv/bin/python benchmarks/gateway_overhead.py --quick      # 1 round, c=1,16, a temp dir
    .venv/bin/python benchmarks/gateway_overhead.py --profile    # also py-spy Plinth at c=16
    .venv/bin/python benchmarks/gateway_overhead.py --quick --sides bare,litellm

Every side fronts the same mock upstream (``gateway_mock_upstream.py``, its
own process: the first token after 10 ms, then 20 content chunks 1 ms apart,
each its own write) and is driven by the same closed-loop load generator
(this script's ``loadgen`` mode, its own process):

- ``direct``: the load generator straight at the mock — the baseline that
  "added latency" is measured against;
- ``bare``: ``gateway_passthrough.py`` (uvicorn + uvloop + httptools, pooled
  aiohttp; no auth, no parsing, no metering);
- ``plinth``: ``plinth serve`` as a user runs it: default settings (bundled
  models loaded, health probes, SQLite ledger with its journal, the privacy
  screen at its default policy, default log level) plus one ``openai``
  deployment pointing at the mock, driven with a client key created through
  ``POST /admin/keys`` (not the admin key);
- ``litellm``: ``litellm --config … --num_workers 1`` with a master key, from
  ``litellm[proxy]`` installed by this script into its own venv under
  ``~/.cache/plinth-bench/litellm-venv`` (skipped, with a note in the results,
  if that install fails).

All sides are started first and stay up; then each round measures every
(streaming, concurrency) point on every side, the sides in a rotating order,
so slow drifts of a shared machine fall on all of them. Reported per point:
the median over the rounds and the spread (min–max) of requests/s and p50.
Every response's content is checked (the mock's exact answer, re-assembled
from the SSE chunks for a stream, and ``[DONE]`` at its end); a wrong one
counts as an error.

For each side, streaming and not, at each concurrency: requests/s, latency
p50/p99 and the added latency (side minus direct, same concurrency), TTFT p50
for streams, errors, and CPU per request of the gateway process tree
(user+system time from /proc, read by the load generator at the exact edges of
the measured window, ÷ requests completed in it). The machine's split is
reported too: the mock's and the load generator's CPU per request.

A side that does not start or fails mid-run is reported as such (in the
output and in the results' meta) and the run goes on with the others. Every
child process is killed on exit, Ctrl-C or SIGTERM.
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
import statistics
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
sys.path.insert(0, str(HERE))
from gateway_mock_upstream import ANSWER  # noqa: E402

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


def main_thread_seconds(pid: int) -> float:
    """utime + stime of a process's main thread (its event loop, for the servers here)."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
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


def start_mock(procs: Processes, work: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """The mock upstream (``gateway_mock_upstream.py`` with ``options``), ready: its
    process and its URL."""
    port = free_port()
    upstream = f"http://127.0.0.1:{port}"
    mock = procs.start(
        [PYTHON, str(HERE / "gateway_mock_upstream.py"), "--port", str(port), *options],
        log=work / "mock.log",
    )
    wait_ready(upstream + "/v1/models", mock)
    return mock, upstream


def write_plinth_config(path: Path, upstream: str) -> Path:
    """Plinth's config file for these benchmarks: defaults everywhere, only the
    ``mock-gpt`` deployment at ``upstream`` (its key from MOCK_UPSTREAM_API_KEY)."""
    path.write_text(
        '[[deployments]]\nmodel = "mock-gpt"\nengine = "openai"\n'
        f'base_url = "{upstream}/v1"\n'
        'api_key_env = "MOCK_UPSTREAM_API_KEY"\nlocality = "cloud"\n'
    )
    return path


def start_side(
    side: str, procs: Processes, upstream: str, work: Path
) -> tuple[subprocess.Popen[bytes], str, str]:
    """The side's process, base URL and the bearer token its clients send."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    slug = side.replace("/", "_")  # plinth@DIR: a file name
    log = work / f"{slug}.log"
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
    elif side == "plinth" or side.startswith("plinth@"):
        config = write_plinth_config(work / f"{slug}.toml", upstream)
        data = work / f"{slug}-data"
        shutil.rmtree(data, ignore_errors=True)
        env = {"PLINTH_CONFIG": str(config), "PLINTH_ADMIN_KEY": KEY, "MOCK_UPSTREAM_API_KEY": "x"}
        if side != "plinth":  # plinth@REV: that commit's src/ first on the path
            env["PYTHONPATH"] = str(source_tree(side.partition("@")[2], work))
        proc = procs.start(
            [str(BIN / "plinth"), "serve", "--port", str(port), "--data-dir", str(data)],
            env=env,
            log=log,
        )
        wait_ready(base + "/v1/models", proc, timeout=300)  # bundled models load first
        return proc, base, client_key(base)
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
            # the model price map ships with the package; no fetch from GitHub at start
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        proc = procs.start(
            [str(exe), "--config", str(config), "--port", str(port), "--num_workers", "1"],
            env=env,
            log=log,
        )
        wait_ready(base + "/v1/models", proc, timeout=240)
    else:
        raise ValueError(side)
    return proc, base, KEY


def source_tree(rev: str, work: Path) -> Path:
    """``src/`` of commit ``rev`` (git archive into ``work``): the before side of an A/B
    run whose sides are interleaved on the same machine, under the same load. A
    directory holding ``src/`` (a tree prepared by hand) is taken as it is."""
    if Path(rev).is_dir():
        return Path(rev) / "src"
    target = work / f"src-{rev}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", rev, "src"], cwd=HERE.parent, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def client_key(base: str) -> str:
    """A client (not admin) key, created as a user would, through the admin API."""
    import urllib.request

    request = urllib.request.Request(
        base + "/admin/keys",
        data=json.dumps({"name": "bench-client"}).encode(),
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        created = json.loads(response.read())
    if created.get("admin"):
        raise RuntimeError("the benchmark's client key came back as an admin key")
    return str(created["key"])


# --- load generation (runs in its own process) ------------------------------------------


async def _load(
    url: str,
    concurrency: int,
    duration: float,
    warmup: float,
    stream: bool,
    pids: dict[str, int],
    key: str,
) -> dict[str, Any]:
    import aiohttp

    body = json.dumps(
        {
            "model": "mock-gpt",
            "messages": [PROMPT],
            "max_tokens": 32,
            **({"stream": True, "stream_options": {"include_usage": True}} if stream else {}),
        }
    ).encode()
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    latencies: list[float] = []
    ttfts: list[float] = []
    errors = 0
    error_kinds: dict[str, int] = {}
    cpu: dict[str, float] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        measure_from = started + warmup
        end = measure_from + duration

        async def sample_cpu() -> None:
            # CPU of every process is read exactly at the window's edges, so the
            # warm-up never counts; the load generator's own time comes from
            # time.process_time() at the same instants.
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            gateway = pids.get("gateway")
            if gateway is not None:  # its event loop's share: one core is its ceiling
                before["gateway_main"] = main_thread_seconds(gateway)
            own = time.process_time()
            await asyncio.sleep(max(0.0, end - time.perf_counter()))
            cpu["loadgen"] = time.process_time() - own
            for name, pid in pids.items():
                cpu[name] = cpu_seconds(pid) - before[name]
            if gateway is not None:
                cpu["gateway_main"] = main_thread_seconds(gateway) - before["gateway_main"]

        async def worker() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < end:
                first: float | None = None
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        if stream:
                            parts = []
                            async for chunk in response.content.iter_any():
                                if first is None:
                                    first = time.perf_counter()
                                parts.append(chunk)
                            answer = b"".join(parts)
                        else:
                            answer = await response.read()
                        ok = response.status == 200
                        kind = f"HTTP {response.status}"
                    if ok and not right_answer(answer, stream):
                        ok, kind = False, "wrong content"
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    ok, kind = False, type(exc).__name__
                done = time.perf_counter()
                if measure_from <= done <= end:
                    if ok:
                        latencies.append(done - now)
                        if first is not None:
                            ttfts.append(first - now)
                    else:
                        errors += 1
                        error_kinds[kind] = error_kinds.get(kind, 0) + 1
                if not ok:
                    await asyncio.sleep(0.01)  # a failing side must not spin the CPU

        await asyncio.gather(sample_cpu(), *(worker() for _ in range(concurrency)))
    return {
        "latencies": latencies,
        "ttfts": ttfts,
        "errors": errors,
        "error_kinds": error_kinds,
        "duration": duration,
        "cpu_s": cpu,
    }


def right_answer(body: bytes, stream: bool) -> bool:
    """Whether a response carries the mock's answer, whole and once."""
    try:
        if not stream:
            return bool(json.loads(body)["choices"][0]["message"]["content"] == ANSWER)
        events = [e.strip() for e in body.split(b"\n\n") if e.strip()]
        if events[-1] != b"data: [DONE]":
            return False
        text = ""
        for event in events[:-1]:
            chunk = json.loads(event.removeprefix(b"data: "))
            for choice in chunk.get("choices") or ():
                text += (choice.get("delta") or {}).get("content") or ""
        return text == ANSWER
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return False


def loadgen_main(args: argparse.Namespace) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    pids = dict(item.split("=", 1) for item in args.pids.split(",") if item)
    result = asyncio.run(
        _load(
            args.url,
            args.concurrency,
            args.duration,
            args.warmup,
            args.stream,
            {name: int(pid) for name, pid in pids.items()},
            args.key,
        )
    )
    Path(args.out).write_text(json.dumps(result))


@dataclass
class Point:
    """One side at one streaming mode and concurrency: medians over the rounds, and
    the spread (min–max over the rounds) of requests/s and p50."""

    side: str
    stream: bool
    concurrency: int
    rounds: int
    requests: int
    rps: float
    rps_min: float
    rps_max: float
    p50_ms: float
    p50_min_ms: float
    p50_max_ms: float
    p99_ms: float
    added_p50_ms: float | None
    added_p99_ms: float | None
    ttft_p50_ms: float | None
    errors: int
    gateway_cpu_ms_per_req: float | None
    mock_cpu_ms_per_req: float | None
    loadgen_cpu_ms_per_req: float | None
    error_kinds: dict[str, int] | None = None
    gateway_main_cpu_ms_per_req: float | None = None  # of gateway CPU: its main thread


def run_loadgen(
    url: str,
    concurrency: int,
    stream: bool,
    duration: float,
    warmup: float,
    pids: dict[str, int],
    out: Path | None = None,
    key: str = KEY,
) -> dict[str, Any]:
    """Runs the load generator in its own process; its result comes back through a file."""
    result_file = out or Path(tempfile.mkstemp(prefix="gw-load-", suffix=".json")[1])
    try:
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
                "--pids",
                ",".join(f"{name}={pid}" for name, pid in pids.items()),
                "--out",
                str(result_file),
                "--key",
                key,
            ]
            + (["--stream"] if stream else []),
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(result_file.read_text()))
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"load generator failed: {exc.stderr.strip()[-2000:]}") from exc
    finally:
        if out is None:
            result_file.unlink(missing_ok=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summarise(
    side: str,
    stream: bool,
    concurrency: int,
    raws: list[dict[str, Any]],
    direct: dict[tuple[bool, int], Point] | None,
) -> Point:
    """The rounds of one point: each round's figures, then their median and spread."""
    rps, p50s, p99s, ttfts = [], [], [], []
    cpus: dict[str, list[float]] = {}
    errors, kinds, requests = 0, dict[str, int](), 0
    for raw in raws:
        lat, n = raw["latencies"], len(raw["latencies"])
        requests += n
        rps.append(n / raw["duration"])
        errors += raw["errors"]
        for kind, count in raw["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + count
        if not n:
            continue
        p50s.append(percentile(lat, 0.5) * 1000)
        p99s.append(percentile(lat, 0.99) * 1000)
        if raw["ttfts"]:
            ttfts.append(percentile(raw["ttfts"], 0.5) * 1000)
        for name, seconds in raw["cpu_s"].items():
            cpus.setdefault(name, []).append(seconds * 1000 / n)
    base = direct.get((stream, concurrency)) if direct else None

    def med(values: list[float], digits: int = 3) -> float | None:
        return round(statistics.median(values), digits) if values else None

    p50, p99 = med(p50s), med(p99s)
    return Point(
        side=side,
        stream=stream,
        concurrency=concurrency,
        rounds=len(raws),
        requests=requests,
        rps=med(rps, 1) or 0.0,
        rps_min=round(min(rps), 1),
        rps_max=round(max(rps), 1),
        p50_ms=p50 if p50 is not None else float("nan"),
        p50_min_ms=round(min(p50s), 3) if p50s else float("nan"),
        p50_max_ms=round(max(p50s), 3) if p50s else float("nan"),
        p99_ms=p99 if p99 is not None else float("nan"),
        added_p50_ms=round(p50 - base.p50_ms, 3) if base and p50 is not None else None,
        added_p99_ms=round(p99 - base.p99_ms, 3) if base and p99 is not None else None,
        ttft_p50_ms=med(ttfts),
        errors=errors,
        gateway_cpu_ms_per_req=med(cpus.get("gateway", [])),
        gateway_main_cpu_ms_per_req=med(cpus.get("gateway_main", [])),
        mock_cpu_ms_per_req=med(cpus.get("mock", [])),
        loadgen_cpu_ms_per_req=med(cpus.get("loadgen", [])),
        error_kinds=kinds or None,
    )


def _package(where: str) -> str:
    """Top-level package of a py-spy frame location ("plinth/gateway.py:12" → "plinth")."""
    path = where.rsplit(":", 1)[0]
    if path.startswith("/") or "/" not in path:
        return Path(path).name or "?"  # a script, a stdlib module or "<string>"
    return path.split("/", 1)[0]


def profile_plinth(
    pid: int,
    url: str,
    mock_pid: int,
    out: Path,
    procs: Processes,
    key: str,
    seconds: float = 6,
) -> None:
    """py-spy (GIL-holding samples) on the running Plinth at c=16, non-streamed then streamed."""
    spy = Path(os.environ.get("PY_SPY", BIN / "py-spy"))  # PY_SPY: one installed elsewhere
    if not spy.exists():
        subprocess.run([str(BIN / "pip"), "install", "py-spy"], check=True)
    lines = [
        "# Where Plinth's time goes: py-spy record --gil -r 250 on the `plinth serve`",
        f"# process while the load generator keeps 16 requests in flight for {seconds:g} s",
        "# (same mock upstream as the table). Only samples holding the GIL count, so",
        "# this is Python CPU time; time waiting on the network is not in it.",
    ]
    for stream in (False, True):
        raw = Path(tempfile.mkdtemp(prefix="gw-profile-")) / "py-spy.raw"
        record = ["record", "-p", str(pid), "-d", str(int(seconds) + 2), "-r", "250", "--gil"]
        recorder = procs.start([str(spy), *record, "-f", "raw", "-o", str(raw)])
        time.sleep(1)
        run_loadgen(url, 16, stream, seconds, 0.0, {"gateway": pid, "mock": mock_pid}, key=key)
        recorder.wait(60)
        procs.running.remove(recorder)
        inclusive: dict[str, int] = {}
        own: dict[str, int] = {}
        packages: dict[str, int] = {}
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            n = int(count)
            total += n
            frames = stack.split(";")
            for frame in {f for f in frames if "(plinth/" in f or "/plinth/" in f}:
                name = frame.split(" (")[0]
                inclusive[name] = inclusive.get(name, 0) + n
            leaf = frames[-1]
            name, _, where = leaf.partition(" (")
            short = f"{name} ({Path(where.rstrip(')').split(':')[0]).name})"
            own[short] = own.get(short, 0) + n
            package = _package(where.rstrip(")"))
            packages[package] = packages.get(package, 0) + n
        shutil.rmtree(raw.parent, ignore_errors=True)
        if not total:
            lines += ["", f"## {'streamed' if stream else 'non-streamed'}: no samples"]
            continue

        def pct(n: int, total: int = total) -> str:
            return f"{n / total * 100:5.1f}%"

        lines += [
            "",
            f"## {'streamed' if stream else 'non-streamed'}, c=16: {total} samples",
            "",
            "### self time by top-level package of the leaf frame",
            "",
        ]
        lines += [f"{pct(n)}  {k}" for k, n in sorted(packages.items(), key=lambda kv: -kv[1])]
        lines += ["", "### self time, top 30 functions", ""]
        lines += [f"{pct(n)}  {k}" for k, n in sorted(own.items(), key=lambda kv: -kv[1])[:30]]
        lines += ["", "### inclusive time of Plinth's own functions, top 30", ""]
        top = sorted(inclusive.items(), key=lambda kv: -kv[1])[:30]
        lines += [f"{pct(n)}  {k}" for k, n in top]
    out.write_text("\n".join(lines) + "\n")


# --- report -----------------------------------------------------------------------------


def verdicts(points: list[Point]) -> list[str]:
    def get(side: str, stream: bool, c: int) -> Point | None:
        return next(
            (p for p in points if (p.side, p.stream, p.concurrency) == (side, stream, c)), None
        )

    out = []
    names = sorted({p.side for p in points if p.side.startswith("plinth")})
    for name in names:  # plinth, and plinth@REV in an A/B run
        who = "Plinth" if name == "plinth" else name
        for stream in (False, True):
            kind = "streamed" if stream else "non-streamed"
            for c in sorted({p.concurrency for p in points}):
                plinth, litellm, bare = (
                    get(name, stream, c),
                    get("litellm", stream, c),
                    get("bare", stream, c),
                )
                if plinth and litellm and litellm.rps:
                    ratio = plinth.rps / litellm.rps
                    out.append(
                        f"{kind}, c={c}: {who} {ratio:.2f}× LiteLLM's requests/s (target ≥ 3×): "
                        f"{'pass' if ratio >= 3 else 'FAIL'}"
                    )
                if plinth and bare and bare.rps:
                    share = plinth.rps / bare.rps
                    out.append(
                        f"{kind}, c={c}: {who} {share:.0%} of the bare pass-through's "
                        f"requests/s (target ≥ 60%): {'pass' if share >= 0.6 else 'FAIL'}"
                    )
            one = get(name, stream, 1)
            if one and one.added_p50_ms is not None:
                out.append(
                    f"{kind}, c=1: {who} adds {one.added_p50_ms:.2f} ms at p50 (target ≤ 1 ms): "
                    f"{'pass' if one.added_p50_ms <= 1 else 'FAIL'}"
                )
    return out


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)


def write_report(points: list[Point], meta: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gateway_overhead.json").write_text(
        json.dumps({"meta": meta, "points": [asdict(p) for p in points]}, indent=2) + "\n"
    )
    lines = ["# Gateway overhead: Plinth vs LiteLLM proxy vs bare pass-through", ""]
    for key, value in meta.items():
        if isinstance(value, dict):
            lines.append(f"- {key}:")
            lines += [f"  - {k}: {v}" for k, v in value.items()]
        else:
            lines.append(f"- {key}: {value}")
    lines += [
        "",
        "Each figure is the median over the rounds; requests/s and p50 also show their",
        "spread (min–max over the rounds). Errors include responses whose content was",
        "wrong (every response is checked against the mock's answer).",
        "",
        "Added latency = the side's percentile minus the direct (load generator → mock)",
        "percentile at the same concurrency and streaming mode; a difference of",
        "percentiles, so an added p99 can come out negative. TTFT = time to the first",
        "body bytes of a streamed response. CPU columns = user+system time of that",
        "process tree over the measured window ÷ requests completed in it (gateway =",
        "the side's server only; mock and load generator shown so the 2-core split is",
        "visible). Main thread = the part of the gateway's CPU on its event loop's",
        "thread, which one core bounds (the rest: the ledger's commit threads and such).",
        "",
        "| side | stream | c | req/s (min–max) | p50 ms (min–max) | p99 ms | added p50 ms | "
        "added p99 ms | TTFT p50 ms | gateway CPU ms/req | of it main thread | "
        "mock CPU ms/req | "
        "loadgen CPU ms/req | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in points:
        cells = [
            p.side,
            "yes" if p.stream else "no",
            p.concurrency,
            f"{p.rps} ({p.rps_min}–{p.rps_max})",
            f"{p.p50_ms} ({p.p50_min_ms}–{p.p50_max_ms})",
            p.p99_ms,
            p.added_p50_ms,
            p.added_p99_ms,
            p.ttft_p50_ms,
            p.gateway_cpu_ms_per_req,
            p.gateway_main_cpu_ms_per_req,
            p.mock_cpu_ms_per_req,
            p.loadgen_cpu_ms_per_req,
            p.errors if not p.error_kinds else f"{p.errors} {p.error_kinds}",
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "## Targets", ""] + [f"- {v}" for v in verdicts(points) or ["(no Plinth data)"]]
    (out_dir / "gateway_overhead.md").write_text("\n".join(lines) + "\n")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "litellm": litellm_version()}
    for name in ("plinth", "starlette", "uvicorn", "uvloop", "httptools", "aiohttp"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


SETTINGS = {
    "direct": "load generator straight at the mock (baseline for added latency)",
    "bare": "gateway_passthrough.py: uvicorn + uvloop + httptools, raw ASGI, one pooled "
    "aiohttp session; no auth, no parsing, no metering",
    "plinth": "plinth serve at its defaults (bundled models loaded, health probes on, SQLite "
    "ledger with its journal, privacy screen at the default policy, default log level), one "
    "`openai` deployment (locality cloud) at the mock; a client key made with "
    "POST /admin/keys as the bearer",
    "litellm": "litellm --config … --num_workers 1 (uvicorn, uvloop), model openai/mock-gpt "
    "with api_base at the mock, general_settings.master_key set (bearer auth), no "
    "database, no callbacks, LITELLM_LOG=ERROR, LITELLM_LOCAL_MODEL_COST_MAP=True",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    lg = sub.add_parser("loadgen", help="internal: the load generator process")
    lg.add_argument("--url", required=True)
    lg.add_argument("--concurrency", type=int, required=True)
    lg.add_argument("--duration", type=float, required=True)
    lg.add_argument("--warmup", type=float, default=1.0)
    lg.add_argument("--stream", action="store_true")
    lg.add_argument("--pids", default="", help="name=pid,… whose CPU to read over the window")
    lg.add_argument("--out", required=True, help="where to write the JSON result")
    lg.add_argument("--key", default=KEY, help="the bearer token to send")
    parser.add_argument(
        "--sides",
        default="plinth,litellm,bare",
        help="direct always runs; plinth@REV also runs Plinth at git commit REV (A/B)",
    )
    parser.add_argument("--modes", default="no,yes", help="streamed: no, yes or both")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--duration", type=float, default=2.5, help="measured s per point")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured s before each")
    parser.add_argument("--rounds", type=int, default=3, help="repeats, the sides interleaved")
    parser.add_argument("--latency-ms", type=float, default=10.0, help="the mock's first token")
    parser.add_argument("--gap-ms", type=float, default=1.0, help="the mock's gap between chunks")
    parser.add_argument(
        "--quick", action="store_true", help="1 round of 1 s points at c=1,16, to a temp dir"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also py-spy Plinth at c=16 (both modes)"
    )
    parser.add_argument("--out-dir", type=Path, help="where to write (default results/)")
    args = parser.parse_args()
    if args.mode == "loadgen":
        loadgen_main(args)
        return
    command = (
        f"{os.path.relpath(PYTHON, Path.cwd())} {os.path.relpath(__file__, Path.cwd())} "
        + " ".join(sys.argv[1:])
    ).strip()
    if args.quick:
        args.duration, args.warmup, args.rounds = 1.0, 0.3, 1
        if args.concurrency == parser.get_default("concurrency"):
            args.concurrency = "1,16"
    levels = [int(c) for c in args.concurrency.split(",")]
    modes = [m == "yes" for m in args.modes.split(",")]
    # "direct" always runs (the baseline); naming it too must not start it as a side.
    sides = [s for s in args.sides.split(",") if s and s != "direct"]
    out_dir = args.out_dir or (
        Path(tempfile.mkdtemp(prefix="gw-quick-")) if args.quick else RESULTS
    )
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so the finally below kills every child.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    procs = Processes()
    work = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    points: list[Point] = []
    failed: dict[str, str] = {}
    try:
        mock, upstream = start_mock(
            procs, work, "--latency-ms", str(args.latency_ms), "--gap-ms", str(args.gap_ms)
        )
        running: dict[str, tuple[subprocess.Popen[bytes], str, str]] = {}
        for side in sides:
            try:
                running[side] = start_side(side, procs, upstream, work)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other sides
                failed[side] = f"did not start: {exc}"
                print(f"{side}: could not start ({exc}); see {work / (side + '.log')}", flush=True)
        print("sides up:", ", ".join(["direct", *running]), flush=True)
        raws: dict[tuple[str, bool, int], list[dict[str, Any]]] = {}
        order = ["direct", *running]
        for round_no in range(args.rounds):
            for stream in modes:
                for c in levels:
                    # A rotating order: no side always runs first (or last) in a round.
                    shift = (round_no + levels.index(c)) % len(order)
                    for side in order[shift:] + order[:shift]:
                        if side in failed:
                            continue
                        if side == "direct":
                            url, pids, key = upstream, {"mock": mock.pid}, KEY
                        else:
                            proc, base, key = running[side]
                            url, pids = base, {"gateway": proc.pid, "mock": mock.pid}
                            if proc.poll() is not None:
                                failed[side] = f"exited with {proc.returncode} while measured"
                                continue
                        try:
                            raw = run_loadgen(
                                url + "/v1/chat/completions",
                                c,
                                stream,
                                args.duration,
                                args.warmup,
                                pids,
                                key=key,
                            )
                        except RuntimeError as exc:
                            failed[side] = f"failed while measured: {exc}"
                            print(f"{side}: {exc}", flush=True)
                            continue
                        raws.setdefault((side, stream, c), []).append(raw)
                        n = len(raw["latencies"])
                        print(
                            f"round {round_no + 1} {side:8} stream={stream!s:5} c={c:3} "
                            f"{n / raw['duration']:8.1f} req/s p50 "
                            f"{percentile(raw['latencies'], 0.5) * 1000:.2f} ms "
                            f"errors {raw['errors']}"
                            + (f" {raw['error_kinds']}" if raw["error_kinds"] else ""),
                            flush=True,
                        )
        direct: dict[tuple[bool, int], Point] = {}
        for side in order:
            for stream in (False, True):
                for c in levels:
                    if (side, stream, c) not in raws:
                        continue
                    point = summarise(side, stream, c, raws[(side, stream, c)], direct or None)
                    if side == "direct":
                        direct[(stream, c)] = point
                    points.append(point)
        if args.profile and "plinth" in running:
            proc, base, key = running["plinth"]
            profile = out_dir / "gateway_overhead_profile.txt"
            profile_plinth(proc.pid, base + "/v1/chat/completions", mock.pid, profile, procs, key)
            print("wrote", profile, flush=True)
    finally:
        procs.stop_all()
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}",
        "versions": versions(),
        "mock upstream": f"gateway_mock_upstream.py (aiohttp, uvloop), {args.latency_ms} ms "
        "before the answer / first token; streams: role + first content chunk, then 19 more "
        f"content chunks {args.gap_ms} ms apart (each its own write), finish chunk, usage "
        "chunk, [DONE]",
        "load generator": f"this script's loadgen mode in its own process (aiohttp, uvloop), "
        f"closed loop, c workers on a pool of c connections; {args.duration} s measured "
        f"after {args.warmup} s warm-up per point; every response's content checked",
        "rounds": f"{args.rounds}, all sides up throughout, the sides in a rotating order "
        "within each point",
        "load average at the end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "settings": {
            side: SETTINGS.get(side)
            or f"as plinth, on the source of commit {side.partition('@')[2]} (git archive)"
            for side in ["direct", *sides]
            if side in SETTINGS or side.startswith("plinth@")
        },
        "command": command,
    }
    if failed:
        meta["sides that did not complete"] = failed
    write_report(points, meta, out_dir)
    print("\n".join(verdicts(points)))
    print("wrote", out_dir / "gateway_overhead.md")
    print("server logs in", work)


if __name__ == "__main__":
    main()
