"""Personal-data detection: precision, recall and F1 per type on data the detectors did not make.

Two sets, both in ``benchmarks/privacy_data`` (see its README):

- hand-written cases (chat, logs, tickets, JSON tool arguments, e-mail
  signatures, tables) with the values marked, plus negatives (order numbers,
  timestamps, versions, prices, tracking numbers) where every finding is wrong;
- synthetic cases from ``generate.py``, which does not import the detectors.

Matching: a finding matches a marked value of the same type. Names and
addresses match when the spans overlap (where an address or a name ends is a
matter of taste: "老家是河南省…" or "河南省…"); other types must cover the same
characters, except that a phone number's country prefix (+86, 0086) may be in or
out. "Leak recall" counts a value as protected when any finding of any type
covers it: that is what keeps it from the cloud.

It also measures the cost: ``detect`` on ~2 KB prompts (p50, everything on),
and seconds per MB on large inputs, including digits that nearly form numbers.

    .venv/bin/python benchmarks/privacy_eval.py [--per-type 60] [--seed 7]
    .venv/bin/python benchmarks/privacy_eval.py --latency   # the 2 KB timing alone, ~2 s

The 2 KB timing gives wall and CPU time per call (p50, p95), the load average, and
the CPU time of each detection stage.

Writes ``benchmarks/results/privacy_eval.md``, ``.json`` and
``privacy_eval_misses.txt`` (every miss and false finding).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import phonenumbers
from stdnum import iban, luhn
from stdnum.cn import ric, uscc

from plinth.privacy.detectors import detect

try:  # absent before the stage list: an older checkout is timed without the breakdown
    from plinth.privacy.detectors import detect_timed
except ImportError:  # pragma: no cover - only when timing an older commit
    detect_timed = None  # type: ignore[assignment]

DATA = Path(__file__).parent / "privacy_data"
RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(DATA))
from generate import cases as synthetic_cases  # noqa: E402

CHECKSUM_TYPES = {"CN_RESIDENT_ID", "CN_BANK_CARD", "PAYMENT_CARD", "CN_USCC", "IBAN"}
LOOSE_TYPES = {"PERSON", "ADDRESS"}
_MARK = re.compile(r"⟦([A-Z0-9_]+)\|(.*?)⟧", re.S)
_PREFIX = re.compile(r"^(?:\(\+?(?:0086|86)\)|\+\s?86|0086)[ .\-]?")
Span = tuple[str, int, int]
Case = tuple[str, str, list[Span]]


def parse_line(line: str) -> tuple[str, str, list[Span]]:
    """``carrier<TAB>text`` with ⟦TYPE|value⟧ marks → (carrier, plain text, spans)."""
    carrier, marked = line.split("\t", 1)
    marked = marked.replace("\\n", "\n").replace("\\t", "\t")
    spans: list[Span] = []
    text, last = "", 0
    for mark in _MARK.finditer(marked):
        text += marked[last : mark.start()]
        spans.append((mark.group(1), len(text), len(text) + len(mark.group(2))))
        text += mark.group(2)
        last = mark.end()
    return carrier, text + marked[last:], spans


# Held-out batches scored apart, each on its own, so the estimate on unseen text is
# not mixed with batches whose misses have since prompted fixes (see the README:
# batch 6 was written before the issue-14 names work, batch 7 after it, batch 8 before
# the second names work; batch 8's misses then guided the scored names work,
# batches 9 and 10's the fourth names work and the address joining, 11 and
# 12's the rules after them, and 13 and 14's the value, Latin-name and everyday-word
# rules of the fifth names work, so none of them is clean any more).
FRESH = (
    "heldout6.tsv",
    "heldout7.tsv",
    "heldout8.tsv",
    "heldout9.tsv",
    "heldout10.tsv",
    "heldout11.tsv",
    "heldout12.tsv",
    # Scored once clean (bb6856a: names P 0.91 / R 0.925 and P 0.914 / R 0.891), then
    # read: their misses and false names guided the fifth names work (see the README).
    "heldout13.tsv",
    "heldout14.tsv",
    # Written blind by helpers W15, W16 and W17 (committed sealed 8229f25, c380020,
    # b3585ca), scored once clean at 50d7187: names P/R 0.916/0.862, 0.958/0.874,
    # 0.963/0.871; addresses 0.977/1.0, 0.952/0.952, 0.905/0.974; the checksummed
    # types, phones and plates 1.0 but one CN_LANDLINE miss in batch 16. Then read:
    # their misses guided the sixth names work (see the README).
    "heldout15.tsv",
    "heldout16.tsv",
    "heldout17.tsv",
    # Written blind by W18/W19 (sealed 9bdfa85, 3b3c191), scored once clean at 8c711fc:
    # names P/R 0.984/0.911 and 0.956/0.931; addresses P/R 0.889/1.0 and 0.909/0.976;
    # CN_LANDLINE R 0.917 in 18; then read for the address work (see the README).
    "heldout18.tsv",
    "heldout19.tsv",
    # Written blind by helpers W20 and W21 (committed sealed 84a5544, 4ed676b), scored
    # once clean at 2b5b53f (with INTL_PHONE values checked as possible, not valid):
    # names P/R 0.930/0.930 and 0.967/0.933; addresses 0.897/1.0 and 0.912/0.981;
    # INTL_PHONE R 0.857 in 20 (+44 7700 900418, a range kept for fiction), CN_LANDLINE
    # R 0.917 in 21 (+86 10 8518 2063 typed INTL_PHONE); the other checksummed types,
    # mobiles and plates 1.0. Then read for the eighth names and second address work.
    "heldout20.tsv",
    "heldout21.tsv",
    # Written blind by helpers W22 and W23 (committed sealed 7b57286, 32a0bf5), scored
    # once clean at e8e3b82: names P/R 0.960/0.955 and 0.985/0.897 (pooled 0.972/0.926);
    # addresses 0.923/0.96 and 0.938/1.0; INTL_PHONE R 0.917 in 23 ((847) 555-0163,
    # written without its country); checksummed types, mobiles, landlines and plates
    # 1.0. Then read for the ninth names and the third address work.
    "heldout22.tsv",
    "heldout23.tsv",
    # Written blind by helper W24 (committed sealed 2ac1f57), scored once clean at
    # 7986541: names P/R 0.964/0.902, addresses 0.984/0.952, phones 60/61 (a 400 service
    # hotline marked, which batches 11, 13, 15 and negatives.tsv leave unmarked), plates
    # 11/12, the rest 1.0. Its plate miss (粤BF·06528) then prompted 359b77b: no longer clean.
    "heldout24.tsv",
)
# Batches never looked at while tuning, each reported apart as ``clean <file>``
# (``--no-clean`` leaves them out while tuning). Batch 25: written blind by helper W25
# (committed sealed b9afe6d) while the ninth names and the third address work ran,
# never opened by them; first scored at 7986541 (names P/R 0.958/0.919, addresses 1.0/1.0,
# plates 9/10: 粤B·6R2F91 fits no GA 36 form; the rest 1.0); its misses guided nothing.
CLEAN: tuple[str, ...] = ("heldout25.tsv",)


def handwritten(*, held_out: bool = False, only: str | None = None) -> list[Case]:
    """The hand-written cases: the tuned-on files, or (``held_out``) the batches
    written after tuning that later prompted changes; ``only``: one file by name."""
    cases = []
    for path in sorted(DATA.glob("*.tsv")):
        if only is not None and path.name != only:
            continue
        if only is None and (
            path.name in (*FRESH, *CLEAN) or path.name.startswith("heldout") != held_out
        ):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.startswith("#"):
                case = parse_line(line)
                for entity, start, end in case[2]:
                    problem = _invalid(entity, case[1][start:end])
                    if problem:
                        raise ValueError(f"{path.name}:{number}: {problem}")
                cases.append(case)
    return cases


def _invalid(entity: str, value: str) -> str | None:
    """A typo in a hand-written value would make a false miss: check the checksums."""
    plain = re.sub(r"[\s.\-]", "", value.translate({c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}))
    ok = {
        "CN_RESIDENT_ID": lambda: ric.is_valid(plain.upper()) or _ric_digit_ok(plain),
        "CN_BANK_CARD": lambda: luhn.is_valid(plain),
        "PAYMENT_CARD": lambda: luhn.is_valid(plain),
        "CN_USCC": lambda: uscc.is_valid(plain),
        "IBAN": lambda: iban.is_valid(plain),
        # Possible, not valid: writers use ranges reserved for fiction (+44 7700 900xxx,
        # +1 555-01xx), which are well-formed but never allocated; a typo is caught anyway.
        "INTL_PHONE": lambda: _possible_phone(value),
    }.get(entity)
    return None if ok is None or ok() else f"{entity} {value!r} fails its own check"


def _possible_phone(value: str) -> bool:
    """With a + it must be a possible number of its country; written nationally
    (``(847) 555-0163``) the country is not in the text, so only its length is checked."""
    if value.lstrip().startswith("+"):
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(value, None)))
    return 7 <= sum(c.isdigit() for c in value) <= 15


def _ric_digit_ok(number: str) -> bool:
    # stdnum also checks the full region code against its table, which misses real districts.
    return len(number) == 18 and ric.calc_check_digit(number.upper()) == number[-1].upper()


def _core(text: str, span: Span) -> tuple[str, int, int]:
    entity, start, end = span
    prefix = _PREFIX.match(text[start:end])
    return entity, start + (prefix.end() if prefix else 0), end


def _matches(text: str, gold: Span, found: Span) -> bool:
    if gold[0] != found[0]:
        return False
    if gold[0] in LOOSE_TYPES:
        return found[1] < gold[2] and gold[1] < found[2]
    return _core(text, gold) == _core(text, found)


def score(cases: Iterable[Case], misses: list[str] | None = None) -> dict[str, dict[str, float]]:
    counts: dict[str, Counter[str]] = {}
    for carrier, text, gold in cases:
        found = [(f.entity, f.start, f.end) for f in detect(text)]
        unmatched = list(found)
        for span in gold:
            tally = counts.setdefault(span[0], Counter())
            hit = next((f for f in unmatched if _matches(text, span, f)), None)
            covered = any(f[1] <= span[1] + 1 and f[2] >= span[2] - 1 for f in found)
            tally["protected"] += covered or hit is not None
            if hit is not None:
                tally["tp"] += 1
                unmatched.remove(hit)
            else:
                tally["fn"] += 1
                _note(misses, "MISS", carrier, text, span, found)
        for span in unmatched:
            counts.setdefault(span[0], Counter())["fp"] += 1
            _note(misses, "FALSE", carrier, text, span, found)
    return {entity: _rates(c) for entity, c in sorted(counts.items())}


def _note(
    misses: list[str] | None, kind: str, carrier: str, text: str, span: Span, found: list[Span]
) -> None:
    if misses is not None:
        seen = ", ".join(f"{e}:{text[s:t]!r}" for e, s, t in found) or "nothing"
        misses.append(
            f"{kind} {span[0]} {text[span[1] : span[2]]!r} [{carrier}] in {text!r} (found: {seen})"
        )


def _rates(c: Counter[str]) -> dict[str, float]:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    leak = c["protected"] / (tp + fn) if tp + fn else 1.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "leak_recall": round(leak, 4),
    }


def evaluate(
    per_type: int = 60, seed: int = 7, misses: list[str] | None = None, *, clean: bool = True
) -> dict[str, dict[str, dict[str, float]]]:
    """Scores per set: ``handwritten`` (the detectors were tuned on it), ``synthetic``,
    ``tuned`` (both), ``held_out`` (hand-written after tuning; batches 1–5, whose
    misses later prompted general fixes), ``fresh <file>`` for each batch in ``FRESH`` and,
    unless ``clean`` is false, ``clean <file>`` for each batch never tuned on (``CLEAN``)."""
    written, generated = handwritten(), list(synthetic_cases(seed, per_type))
    scores = {
        "handwritten": score(written, misses),
        "synthetic": score(generated, misses),
        "tuned": score(written + generated),
        "held_out": score(handwritten(held_out=True), misses),
    }
    batches = [(f"fresh {name}", name) for name in FRESH]
    if clean:
        batches += [(f"clean {name}", name) for name in CLEAN]
    for label, name in batches:  # each batch apart, its misses marked with its name
        fresh_misses: list[str] = []
        scores[label] = score(handwritten(only=name), fresh_misses)
        if misses is not None:
            misses += [f"[{name}] {line}" for line in fresh_misses]
    return scores


def prompts_2kb(seed: int, count: int = 20) -> list[str]:
    """~2 KB prompts: prose in both languages with hand-written cases mixed in."""
    rng = random.Random(seed)
    written = [text for _, text, _ in handwritten()]
    prose = [
        "请根据以下客户资料生成一份简短的摘要，并指出需要人工复核的地方。",
        "The customer called about an invoice and asked for a refund next week. ",
        "会议纪要：本周完成了接口联调，下周计划上线灰度版本，风险主要在支付模块。",
        "Summarise the thread below and list the open questions for the team.\n",
    ]
    made = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p.encode()) for p in parts) < 2048:
            parts.append(rng.choice(prose) if rng.random() < 0.7 else rng.choice(written) + "\n")
        made.append("".join(parts))
    return made


def latency_2kb(seed: int, runs: int = 400) -> dict[str, object]:
    """Per-call wall time and CPU time of ``detect`` on ~2 KB prompts (p50 / p95), and
    the mean CPU time per call of each stage (``detect_timed``, a separate pass)."""
    prompts = prompts_2kb(seed)
    for prompt in prompts:
        detect(prompt)  # warm caches
    load_before = os.getloadavg()[0]
    wall, cpu = [], []
    for i in range(runs):
        started, started_cpu = time.perf_counter_ns(), time.process_time_ns()
        detect(prompts[i % len(prompts)])
        cpu.append((time.process_time_ns() - started_cpu) / 1e6)
        wall.append((time.perf_counter_ns() - started) / 1e6)
    # CPU time is what detection costs; wall time also counts waiting for a core,
    # which on a shared machine can be most of it.
    stages: dict[str, int] = {}
    for i in range(runs if detect_timed is not None else 0):
        detect_timed(prompts[i % len(prompts)], stages)
    per_call = {name: round(ns / runs / 1000, 1) for name, ns in stages.items()}
    return {
        "prompt_bytes": round(statistics.mean(len(p.encode()) for p in prompts)),
        "runs": runs,
        "p50_ms": round(statistics.median(wall), 4),
        "p95_ms": round(_p95(wall), 4),
        "cpu_p50_ms": round(statistics.median(cpu), 4),
        "cpu_p95_ms": round(_p95(cpu), 4),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cores": os.cpu_count(),
        "stage_cpu_us": dict(sorted(per_call.items(), key=lambda item: -item[1])),
        "stage_cpu_us_total": round(sum(per_call.values()), 1),
    }


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * len(values))]


def _latency_lines(latency: dict[str, object]) -> list[str]:
    stages = latency["stage_cpu_us"]
    assert isinstance(stages, dict)
    load = latency["load_average"]
    assert isinstance(load, list)
    breakdown = (
        f"- CPU per stage, µs per call (mean; `detect_timed`, whose clock calls add about "
        f"1 µs a stage: {latency['stage_cpu_us_total']} µs in all): "
        + ", ".join(f"{name} {us}" for name, us in stages.items())
        if stages
        else "- no stage breakdown: this checkout's detectors have no `detect_timed`"
    )
    return [
        f"- detection of ~{latency['prompt_bytes']}-byte prompts, everything on, "
        f"{latency['runs']} calls: p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms wall; "
        f"CPU time (process_time) p50 {latency['cpu_p50_ms']} ms, p95 {latency['cpu_p95_ms']} ms "
        f"(target p50 ≤ 0.5 ms; load average {load[0]} before, {load[1]} after, on "
        f"{latency['cores']} cores)",
        breakdown,
    ]


def cost_per_mb(seed: int, megabytes: float = 1.0) -> dict[str, float]:
    """Seconds per MB of input: prompts, and digits that nearly make numbers."""
    rng = random.Random(seed)
    size = int(megabytes * 1024 * 1024)
    near_miss: list[str] = []
    while sum(map(len, near_miss)) < size:  # 10- and 12-digit groups, IDs one digit short
        near_miss.append("".join(rng.choice("0123456789") for _ in range(rng.choice([10, 12, 17]))))
        near_miss.append(rng.choice([" ", "-", ".", " "]))
    bodies = {
        "prompts": ("".join(prompts_2kb(seed, 600)))[:size],
        "near_miss_digits": "".join(near_miss)[:size],
        "phone_like_digits": ("138 0013 800 " * (size // 13 + 1))[:size],
    }
    out = {}
    for name, body in bodies.items():
        started = time.perf_counter()
        detect(body)
        out[name] = round((time.perf_counter() - started) / (len(body.encode()) / 1024 / 1024), 3)
    return out


def jieba_names(seed: int) -> dict[str, float]:
    """The alternative not taken: jieba's part-of-speech tags (``nr*``) as a name detector,
    scored with the same overlap rule on the hand-written cases, and its cost."""
    import logging

    import jieba  # type: ignore[import-untyped]
    import jieba.posseg  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)

    def names(text: str) -> list[Span]:
        spans, position = [], 0
        for token in jieba.posseg.cut(text):
            start = text.find(token.word, position)
            position = start + len(token.word)
            if token.flag.startswith("nr") and len(token.word) >= 2:
                spans.append(("PERSON", start, position))
        return spans

    out: dict[str, float] = {}
    for name, cases in (("tuned", handwritten()), ("held_out", handwritten(held_out=True))):
        tp = fp = fn = 0
        for _, text, gold in cases:
            found = names(text)
            for span in (s for s in gold if s[0] == "PERSON"):
                hit = next((f for f in found if _matches(text, span, f)), None)
                tp, fn = tp + (hit is not None), fn + (hit is None)
                if hit is not None:
                    found.remove(hit)
            fp += len(found)
        out[f"{name}_precision"] = round(tp / (tp + fp), 4) if tp + fp else 1.0
        out[f"{name}_recall"] = round(tp / (tp + fn), 4) if tp + fn else 1.0
    prompts = prompts_2kb(seed)
    timings = []
    for prompt in prompts * 3:
        started = time.thread_time()
        names(prompt)
        timings.append((time.thread_time() - started) * 1000)
    out["cpu_p50_ms_2kb"] = round(statistics.median(timings), 3)
    return out


def _table(scores: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "| entity | TP | FP | FN | precision | recall | F1 | leak recall |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entity, s in scores.items():
        lines.append(
            f"| {entity} | {s['tp']} | {s['fp']} | {s['fn']} | {s['precision']} | "
            f"{s['recall']} | {s['f1']} | {s['leak_recall']} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-type", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="scores only; no files written")
    parser.add_argument(
        "--latency", action="store_true", help="the 2 KB detection timing only; no files written"
    )
    parser.add_argument(
        "--no-clean",
        action="store_true",
        help=f"leave out the clean batches ({', '.join(CLEAN) or 'none now'}); with --quick only",
    )
    args = parser.parse_args()
    if args.no_clean and not args.quick:
        parser.error("--no-clean only with --quick: the written results always include it")
    if args.latency:
        timing = latency_2kb(args.seed)
        print("\n".join(_latency_lines(timing)))
        print(json.dumps(timing))
        return
    written, generated = handwritten(), list(synthetic_cases(args.seed, args.per_type))
    held_out = handwritten(held_out=True)
    misses: list[str] = []
    scores = evaluate(args.per_type, args.seed, misses, clean=not args.no_clean)
    if args.quick:
        for name, table in scores.items():
            print("\n".join([f"## {name}", *_table(table)]))
        print("\n".join(misses))
        return
    latency, cost, jieba = latency_2kb(args.seed), cost_per_mb(args.seed), jieba_names(args.seed)
    command = f"python benchmarks/privacy_eval.py --per-type {args.per_type} --seed {args.seed}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "privacy_eval.json").write_text(
        json.dumps(
            {
                "command": command,
                "cases": {
                    "handwritten": len(written),
                    "synthetic": len(generated),
                    "held_out": len(held_out),
                },
                "scores": scores,
                "latency_2kb": latency,
                "seconds_per_mb": cost,
                "jieba_names": jieba,
            },
            indent=2,
        )
        + "\n"
    )
    lines = [
        "# Personal-data detection: precision, recall, cost",
        "",
        f"- command: `{command}`",
        f"- cases: {len(written)} hand-written (with negatives), {len(generated)} synthetic, "
        f"{len(held_out)} hand-written held out (written after tuning, not tuned on)",
        *_latency_lines(latency),
        f"- large inputs, seconds per MB: {', '.join(f'{k} {v}' for k, v in cost.items())}",
        "- misses and false findings: `privacy_eval_misses.txt`",
        "- jieba part-of-speech names (`nr*`) instead, same cases and matching: "
        + ", ".join(f"{k} {v}" for k, v in jieba.items()),
        "",
    ]
    for name, table in scores.items():
        lines += [f"## {name}", "", *_table(table), ""]
    (RESULTS / "privacy_eval.md").write_text("\n".join(lines))
    (RESULTS / "privacy_eval_misses.txt").write_text("\n".join(misses) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
