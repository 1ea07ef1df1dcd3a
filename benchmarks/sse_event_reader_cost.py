"""CPU of ``EventReader`` (engines/upstream_http.py) on one large server-sent event.

An upstream may stream one event of several MB (a long tool call's arguments, an
image as base64) in TCP-sized pieces; the reader runs on the event loop, so its
cost per event is a pause for every request. Each size is fed as pieces of
1,448 bytes (one TCP segment's payload), with ``has_event`` and ``take`` after
each piece as ``post_sse_bytes`` calls them, then the event's end.

    .venv/bin/python benchmarks/sse_event_reader_cost.py --sizes-mib 0.25,1,4
"""

from __future__ import annotations

import argparse
import os
import time

from plinth.engines.upstream_http import EventReader

PIECE = 1448


def cpu_of(size: int) -> float:
    reader = EventReader("bench")
    piece = b"data: " + b"a" * (PIECE - 6)
    started = time.process_time()
    for _ in range(size // PIECE):
        reader.feed(piece)
        reader.has_event()
        assert reader.take() is None
    reader.feed(b"\n\n")
    assert reader.take() is not None
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", default="0.25,1,4")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; pieces of {PIECE} bytes")
    for mib in (float(s) for s in args.sizes_mib.split(",")):
        seconds = cpu_of(int(mib * 1024 * 1024))
        print(f"one event of {mib:g} MiB: {seconds:.3f} s CPU")


if __name__ == "__main__":
    main()
