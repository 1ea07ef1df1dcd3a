"""A stand-in "cloud" model for the selection bench: the test suite's fake upstream,
served on a fixed port with a fixed network-like delay before each response.

It echoes the user's message, so its quality scores measure nothing about a
real model; it is there to exercise price, TCO and break-even against a
local model. Usage: python benchmarks/selection/fake_cloud.py PORT DELAY_S
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from upstreamfake import FakeUpstream, Fault


def main() -> None:
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FakeUpstream(port=port, models=["fake-cloud-model"]) as upstream:
        upstream.always(Fault.latency(delay))
        print(f"fake cloud on {upstream.base_url}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
