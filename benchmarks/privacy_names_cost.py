"""CPU of the names stages in the detection of a 2 KB prompt.

``detect()`` is timed (``time.thread_time``) on the ~2 KB prompts of
``privacy_eval.py --latency``, in turns with every names finder on and with all of
them replaced by no-ops; the difference of the medians is what the names cost.
Both are taken in one process, call by call, so load on a shared machine hits
both alike. To compare two commits, run it on each in turns:

    .venv/bin/python benchmarks/privacy_names_cost.py --runs 800
    PYTHONPATH=<checkout of the other commit>/src .venv/bin/python \\
        benchmarks/privacy_names_cost.py --runs 800
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from privacy_eval import prompts_2kb

from plinth.privacy import detectors

# Finders whose findings are names: by the names detectors use for them.
NAME_FINDERS = (
    "find_chinese_names",
    "find_uncued_names",
    "find_scored_names",
    "find_familiar_names",
    "find_transliterated_names",
    "find_field_names",
    "find_roster_names",
    "find_column_names",
    "find_english_names",
    "find_record_names",
    "find_listed_names",
)


def _none(*_: object, **__: object) -> tuple[()]:
    return ()


def _switch(on: bool, saved: dict[str, Any], han: tuple[Callable[..., Any], ...]) -> None:
    names_off = tuple(f for f in han if f.__name__ not in NAME_FINDERS)
    detectors._HAN_FINDERS = han if on else names_off
    for name, finder in saved.items():
        setattr(detectors, name, finder if on else _none)


def measure(runs: int, seed: int = 7) -> dict[str, float]:
    prompts = prompts_2kb(seed)
    han = detectors._HAN_FINDERS
    saved = {n: getattr(detectors, n) for n in NAME_FINDERS if hasattr(detectors, n)}
    times: dict[bool, list[float]] = {True: [], False: []}
    for prompt in prompts:  # warm caches
        detectors.detect(prompt)
    try:
        for i in range(runs):
            prompt = prompts[i % len(prompts)]
            for on in (True, False):
                _switch(on, saved, han)
                started = time.thread_time()
                detectors.detect(prompt)
                times[on].append((time.thread_time() - started) * 1000)
    finally:
        _switch(True, saved, han)
    with_names, without = statistics.median(times[True]), statistics.median(times[False])
    return {
        "detect_cpu_p50_ms": round(with_names, 4),
        "without_names_cpu_p50_ms": round(without, 4),
        "names_cpu_ms": round(with_names - without, 4),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=800)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(measure(args.runs, args.seed)))


if __name__ == "__main__":
    main()
