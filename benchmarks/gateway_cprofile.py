"""Where Plinth's event-loop CPU goes on the proxy path, with cProfile (no py-spy needed).

    .venv/bin/python benchmarks/gateway_cprofile.py                  # non-streamed, c=64
    .venv/bin/python benchmarks/gateway_cprofile.py --stream --concurrency 16
    .venv/bin/python benchmarks/gateway_cprofile.py --out /tmp/p.txt --stats /tmp/p.prof

``gateway_overhead.py --profile`` samples with py-spy when it is installed;
this one needs nothing beyond the venv. ``plinth serve`` (its defaults, one
``openai`` deployment at ``gateway_mock_upstream.py``, a client key, as in
``gateway_overhead.py``) runs under this script's ``serve`` mode, which
switches a cProfile of the main thread (the event loop) on at SIGUSR1 and
off, writing its stats, at SIGUSR2; the load generator of
``gateway_overhead.py`` drives it for ``--duration`` s between the two, after a
warm-up. Times are thread CPU time. cProfile adds a fixed cost to every
Python call, so Python-heavy code looks dearer than it is: compare shares
between runs of this script, not with the benchmark's CPU per request.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def serve_main(argv: list[str]) -> None:
    """``plinth serve`` with the profiler's switches (SIGUSR1 on, SIGUSR2 off + dump)."""
    profile = cProfile.Profile(time.thread_time)
    out = os.environ["PLINTH_CPROFILE_OUT"]

    def on(*_: object) -> None:
        profile.enable()

    def off(*_: object) -> None:
        profile.disable()
        profile.dump_stats(out)
        profile.clear()

    signal.signal(signal.SIGUSR1, on)
    signal.signal(signal.SIGUSR2, off)
    from plinth.cli import main

    sys.argv = ["plinth", *argv]
    sys.exit(main())


def _where(filename: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename.rsplit("/", 1)[-1] or filename


def report(stats_path: Path, requests: int, label: str) -> str:
    stats = pstats.Stats(str(stats_path))
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    by_file: collections.Counter[str] = collections.Counter()
    for (filename, _line, _name), v in raw.items():
        by_file[_where(filename)] += v[2]
    lines = [f"# {label}: {requests} requests, {total:.3f} s profiled main-thread CPU", ""]
    lines += ["## self time by file", ""]
    lines += [f"{100 * t / total:5.1f}%  {name}" for name, t in by_file.most_common(30)]
    lines += ["", "## self time, top 30 functions", ""]
    top = sorted(raw.items(), key=lambda kv: -kv[1][2])[:30]
    for (filename, line, name), v in top:
        lines.append(f"{100 * v[2] / total:5.1f}%  {name} ({_where(filename)}:{line})")
    lines += ["", "## inclusive time of Plinth's functions, top 30", ""]
    ours = [(k, v) for k, v in raw.items() if "/src/plinth/" in k[0]]
    for (filename, line, name), v in sorted(ours, key=lambda kv: -kv[1][3])[:30]:
        lines.append(f"{100 * v[3] / total:5.1f}%  {name} ({_where(filename)}:{line})")
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve_main(sys.argv[1:])  # "serve" and its options, as plinth takes them
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--out", type=Path, help="the report (default: printed only)")
    parser.add_argument("--stats", type=Path, help="keep the raw pstats file here")
    args = parser.parse_args()
    import gateway_overhead as bench

    # SIGTERM, SIGHUP and a closed output pipe unwind like Ctrl-C: the finally
    # below kills the mock and the server (each in its own session).
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, lambda *_: sys.exit(130))
    procs = bench.Processes()
    work = Path(tempfile.mkdtemp(prefix="gw-cprofile-"))
    stats_path = args.stats or work / "plinth.prof"
    try:
        _, upstream = bench.start_mock(procs, work)
        config = bench.write_plinth_config(work / "plinth.toml", upstream)
        port = bench.free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "PLINTH_CONFIG": str(config),
            "PLINTH_ADMIN_KEY": bench.KEY,
            "MOCK_UPSTREAM_API_KEY": "x",
            "PLINTH_CPROFILE_OUT": str(stats_path),
        }
        command = [sys.executable, __file__, "serve", "--port", str(port)]
        proc = procs.start(
            [*command, "--data-dir", str(work / "data")], env=env, log=work / "plinth.log"
        )
        bench.wait_ready(base + "/v1/models", proc, timeout=300)
        key = bench.client_key(base)
        url = base + "/v1/chat/completions"
        bench.run_loadgen(url, args.concurrency, args.stream, 1.0, 0.3, {}, key=key)  # warm-up
        os.kill(proc.pid, signal.SIGUSR1)
        result = bench.run_loadgen(
            url, args.concurrency, args.stream, args.duration, 0.0, {}, key=key
        )
        os.kill(proc.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not stats_path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # the dump finishes
    finally:
        procs.stop_all()
    mode = "streamed" if args.stream else "non-streamed"
    label = f"{mode}, c={args.concurrency}, load average {os.getloadavg()[0]:.1f}"
    text = report(stats_path, len(result["latencies"]), label)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
