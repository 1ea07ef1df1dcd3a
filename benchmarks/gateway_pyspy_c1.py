"""Where ``plinth serve``'s main thread spends a c=1 non-streamed request, by py-spy.

    .venv/bin/pip install py-spy    # not a dependency
    .venv/bin/python benchmarks/gateway_pyspy_c1.py /tmp/raw.txt 12

The same setup as ``gateway_overhead.py`` (mock upstream, default ``plinth
serve``, a client key); one request in flight for the given seconds while
``py-spy record -r 1000 --nonblocking --threads`` samples the server. Prints
each thread's sample count, then the main thread's inclusive and self shares
(frames as py-spy names them). Unlike ``gateway_cprofile.py`` it adds no cost
per Python call, so C code (uvloop, the JSON encoder, pydantic) keeps its real
share; 1,000 samples a second on ~1 ms of CPU per request is a coarse picture:
compare shares above ~1 %.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gateway_overhead as bench  # noqa: E402


def record(out: Path, seconds: float) -> int:
    procs = bench.Processes()
    work = Path(tempfile.mkdtemp(prefix="gw-pyspy-"))
    try:
        # Exactly gateway_overhead.py's mock and its "plinth" side.
        _, upstream = bench.start_mock(procs, work)
        proc, base, key = bench.start_side("plinth", procs, upstream, work)
        url = base + "/v1/chat/completions"
        bench.run_loadgen(url, 1, False, 2.0, 0.3, {}, key=key)  # warm-up
        spy = [str(bench.BIN / "py-spy"), "record", "-p", str(proc.pid)]
        spy += ["-d", str(int(seconds) + 2), "-r", "1000", "--nonblocking", "--threads"]
        recorder = subprocess.Popen(
            [*spy, "-f", "raw", "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
        result = bench.run_loadgen(url, 1, False, seconds, 0.0, {}, key=key)
        recorder.wait(60)
        return len(result["latencies"])
    finally:
        procs.stop_all()


def report(raw: Path) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        threads[frames[0]] += n
        if "MainThread" not in frames[0]:
            continue
        total += n
        for frame in set(frames[1:]):
            inclusive[frame] += n
        own[frames[-1]] += n
    print("samples by thread:", dict(threads.most_common(8)))
    print(f"main thread: {total} samples\n\n## inclusive, top 60")
    for frame, n in inclusive.most_common(60):
        print(f"{n / total * 100:5.1f}%  {frame}")
    print("\n## self, top 30")
    for frame, n in own.most_common(30):
        print(f"{n / total * 100:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "out", nargs="?", type=Path, help="py-spy's raw output (default: a temp file)"
    )
    parser.add_argument("seconds", nargs="?", type=float, default=12.0, help="how long to sample")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp()) / "raw.txt"
    print("requests:", record(out, args.seconds))
    report(out)


if __name__ == "__main__":
    main()
