"""Personal-data detection: precision and recall per entity type, and its cost.

The labelled set is generated here from a fixed seed: valid values (check
digits computed, dates real, number plans respected) and look-alikes that must
NOT be flagged (a wrong check digit, an impossible date, a short number), in
Chinese and English sentences, with full-width digits and separators mixed in.

    .venv/bin/python benchmarks/privacy_eval.py [--samples-per-type 300] [--seed 7]

Writes ``benchmarks/results/privacy_eval.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import phonenumbers
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_97_10

from plinth.privacy.detectors import detect

RESULTS = Path(__file__).parent / "results"
CHECKSUM_TYPES = {"CN_RESIDENT_ID", "CN_BANK_CARD", "PAYMENT_CARD", "CN_USCC", "IBAN"}
TEMPLATES = [
    "我的{label}是{value}，请帮我核实一下。",
    "客户资料：{label} {value}；备注：VIP",
    "请联系{value}办理业务",
    "收到，{label}：{value}。谢谢！",
    "My {label} is {value}, please check it.",
    "Customer record - {label}: {value} (verified)",
    "Send it to {value} before Friday.",
    "{value}",
]
FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in string.digits})

Gen = Callable[[random.Random], str]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _group(value: str, rng: random.Random, sizes: tuple[int, ...]) -> str:
    sep = rng.choice(["", " ", "-"])
    parts, i = [], 0
    for size in sizes:
        parts.append(value[i : i + size])
        i += size
    parts.append(value[i:])
    return sep.join(p for p in parts if p)


def cn_id(rng: random.Random, valid: bool = True) -> str:
    region = rng.choice(["110105", "310104", "440305", "510107", "330106", "420102"])
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    body = region + born.strftime("%Y%m%d") + _digits(rng, 3)
    check = ric.calc_check_digit(body + "0")  # it expects a placeholder check digit
    if not valid:
        if rng.random() < 0.5:
            check = rng.choice([c for c in "0123456789X" if c != check])
        else:
            body = region + f"{born.year}13{rng.randrange(10, 29)}" + _digits(rng, 3)
    return _group(body + check, rng, (6, 8)) if rng.random() < 0.2 else body + check


def cn_mobile(rng: random.Random, valid: bool = True) -> str:
    prefix = rng.choice(["138", "139", "150", "186", "177", "199", "135", "158"])
    if not valid:
        return (
            rng.choice(["12", "11"]) + _digits(rng, 9)
            if rng.random() < 0.5
            else prefix + _digits(rng, 7)
        )
    number = prefix + _digits(rng, 8)
    style = rng.random()
    if style < 0.25:
        return _group(number, rng, (3, 4))
    if style < 0.35:
        return "+86 " + number
    return number


def cn_landline(rng: random.Random, valid: bool = True) -> str:
    while True:
        area, length = rng.choice([("010", 8), ("021", 8), ("0755", 8), ("0571", 8), ("020", 8)])
        local = rng.choice("2345678") + _digits(rng, length - 1)
        if not valid:
            return "000-" + local
        text = area + rng.choice(["-", " ", ""]) + local
        if phonenumbers.is_valid_number(phonenumbers.parse(text, "CN")):
            return text


def card(rng: random.Random, prefix: str, length: int, valid: bool = True) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
    check = luhn.calc_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randrange(1, 10)) % 10)
    number = body + check
    return _group(number, rng, (4, 4, 4, 4)) if rng.random() < 0.4 else number


def cn_bank_card(rng: random.Random, valid: bool = True) -> str:
    return card(rng, rng.choice(["6222", "6228", "6217", "6212"]), rng.choice([16, 19]), valid)


def payment_card(rng: random.Random, valid: bool = True) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)])
    return card(rng, prefix, length, valid)


def cn_uscc(rng: random.Random, valid: bool = True) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    while True:
        body = rng.choice(["91", "92", "12", "51"]) + rng.choice(["110000", "310115", "440300"])
        org = _digits(rng, 8)
        org_check = "0123456789X"[
            (11 - sum(int(d) * w for d, w in zip(org, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11)
            % 11
        ]
        if org_check == "X":
            continue
        first17 = body + org + org_check
        check = uscc.calc_check_digit(first17)
        if not valid:
            check = rng.choice([c for c in alphabet if c != check])
        value = first17 + check
        if uscc.is_valid(value) == valid:
            return value


def cn_passport(rng: random.Random, valid: bool = True) -> str:
    return ("E" if rng.random() < 0.7 else "G") + _digits(rng, 8 if valid else 7)


def email(rng: random.Random, valid: bool = True) -> str:
    user = rng.choice(["zhang.wei", "li_na", "j.smith", "ops+alerts", "wang123"])
    domain = rng.choice(["example.com", "mail.example.cn", "corp.example.org"])
    return f"{user}@{domain}" if valid else f"{user}@{domain.split('.')[0]}"


def ipv4(rng: random.Random, valid: bool = True) -> str:
    octets = [rng.randrange(1, 255) for _ in range(4)]
    if not valid:
        octets[rng.randrange(4)] = rng.randrange(256, 999)
    return ".".join(map(str, octets))


def ipv6(rng: random.Random, valid: bool = True) -> str:
    groups = [f"{rng.randrange(65536):x}" for _ in range(8)]
    if not valid:
        return ":".join(groups[:3]) + ":::" + groups[4]
    return "2001:db8::" + ":".join(groups[5:]) if rng.random() < 0.5 else ":".join(groups)


def intl_phone(rng: random.Random, valid: bool = True) -> str:
    region = rng.choice(["US", "GB", "DE", "JP", "FR", "SG"])
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return text if valid else text[: len(text) // 2]


def iban_value(rng: random.Random, valid: bool = True) -> str:
    country, bban = rng.choice(
        [("DE", _digits(rng, 18)), ("GB", "WEST" + _digits(rng, 14)), ("FR", _digits(rng, 23))]
    )
    check = mod_97_10.calc_check_digits(bban + country)
    if not valid:
        check = f"{(int(check) + rng.randrange(1, 50)) % 97 + 2:02d}"
    value = country + check + bban
    return (
        " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.5 else value
    )


def us_ssn(rng: random.Random, valid: bool = True) -> str:
    if valid:
        area = rng.choice([rng.randrange(1, 666), rng.randrange(667, 900)])
        return f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"
    return rng.choice(["000", "666", "912"]) + f"-{rng.randrange(1, 100):02d}-{_digits(rng, 4)}"


def aws_key(rng: random.Random, valid: bool = True) -> str:
    tail = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    return "AKIA" + (tail if valid else tail[:10])


def api_key(rng: random.Random, valid: bool = True) -> str:
    tail = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
    return "sk-" + (tail if valid else tail[:8])


def private_key(rng: random.Random, valid: bool = True) -> str:
    body = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(64))
    kind = rng.choice(["RSA ", "EC ", ""])
    end = f"-----END {kind}PRIVATE KEY-----" if valid else "(truncated)"
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n{end}"


GENERATORS: dict[str, tuple[str, Callable[..., str]]] = {
    "CN_RESIDENT_ID": ("身份证号", cn_id),
    "CN_MOBILE": ("手机号", cn_mobile),
    "CN_LANDLINE": ("座机", cn_landline),
    "CN_BANK_CARD": ("银行卡号", cn_bank_card),
    "PAYMENT_CARD": ("card number", payment_card),
    "CN_USCC": ("统一社会信用代码", cn_uscc),
    "CN_PASSPORT": ("护照号码", cn_passport),
    "EMAIL": ("email", email),
    "IPV4": ("IP", ipv4),
    "IPV6": ("IPv6", ipv6),
    "INTL_PHONE": ("phone", intl_phone),
    "IBAN": ("IBAN", iban_value),
    "US_SSN": ("SSN", us_ssn),
    "CLOUD_ACCESS_KEY": ("access key", aws_key),
    "API_KEY": ("API key", api_key),
    "PRIVATE_KEY": ("key file", private_key),
}


def make_sample(
    rng: random.Random, entity: str, valid: bool
) -> tuple[str, list[tuple[str, int, int]]]:
    label, generate = GENERATORS[entity]
    value = generate(rng, valid)
    if rng.random() < 0.15 and entity not in {"PRIVATE_KEY", "IPV6"}:
        value = value.translate(FULL_WIDTH)
    template = rng.choice(TEMPLATES)
    before = template.split("{value}")[0].replace("{label}", label)
    text = template.replace("{label}", label).replace("{value}", value)
    gold = [(entity, len(before), len(before) + len(value))] if valid else []
    return text, gold


def evaluate(samples_per_type: int, seed: int) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    counts = {e: {"tp": 0, "fp": 0, "fn": 0} for e in GENERATORS}
    for entity in GENERATORS:
        for i in range(samples_per_type):
            text, gold = make_sample(rng, entity, valid=i % 3 != 2)  # 2/3 valid, 1/3 look-alikes
            found = {(f.entity, f.start, f.end) for f in detect(text)}
            expected = set(gold)
            for item in found & expected:
                counts[item[0]]["tp"] += 1
            for item in found - expected:
                counts.setdefault(item[0], {"tp": 0, "fp": 0, "fn": 0})["fp"] += 1
            for item in expected - found:
                counts[item[0]]["fn"] += 1
    scores = {}
    for entity, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        scores[entity] = {**c, "precision": round(precision, 4), "recall": round(recall, 4)}
    return scores


def latency_ms(seed: int, runs: int = 300) -> dict[str, float]:
    """detect() on ~2 KB prompts that mix prose with a few entities."""
    rng = random.Random(seed)
    prose = (
        "请根据以下客户资料生成一份简短的摘要，并指出需要人工复核的地方。"
        "The customer called about an invoice and asked for a refund next week. "
    )
    prompts = []
    for _ in range(20):
        parts = []
        while sum(len(p.encode()) for p in parts) < 2048:
            parts.append(prose)
            if rng.random() < 0.3:
                parts.append(make_sample(rng, rng.choice(list(GENERATORS)), True)[0])
        prompts.append("".join(parts))
    timings = []
    for i in range(runs):
        prompt = prompts[i % len(prompts)]
        started = time.perf_counter()
        detect(prompt)
        timings.append((time.perf_counter() - started) * 1000)
    size = statistics.mean(len(p.encode()) for p in prompts)
    return {
        "prompt_bytes": round(size),
        "p50_ms": round(statistics.median(timings), 4),
        "p95_ms": round(sorted(timings)[int(0.95 * len(timings))], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples-per-type", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    scores = evaluate(args.samples_per_type, args.seed)
    cost = latency_ms(args.seed)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "privacy_eval.json").write_text(
        json.dumps({"args": vars(args), "scores": scores, "latency": cost}, indent=2) + "\n"
    )
    lines = [
        "# Personal-data detection: precision, recall, cost",
        "",
        f"- command: `python benchmarks/privacy_eval.py --samples-per-type "
        f"{args.samples_per_type} --seed {args.seed}`",
        f"- detection cost on ~{cost['prompt_bytes']}-byte prompts: p50 {cost['p50_ms']} ms, "
        f"p95 {cost['p95_ms']} ms (target p50 ≤ 0.3 ms)",
        "",
        "| entity | checksum | TP | FP | FN | precision | recall |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entity, s in scores.items():
        mark = "yes" if entity in CHECKSUM_TYPES else ""
        lines.append(
            f"| {entity} | {mark} | {s['tp']} | {s['fp']} | {s['fn']} "
            f"| {s['precision']} | {s['recall']} |"
        )
    (RESULTS / "privacy_eval.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
