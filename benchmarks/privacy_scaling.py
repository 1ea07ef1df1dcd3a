"""Does ``detect()`` scale linearly on adversarial texts?

Every case is a text built to provoke super-linear work (regex backtracking, a loop
over findings, lists or windows per finding): repeated surnames, surname+title runs,
address-suffix runs, digit runs with and without separators, list-separator runs,
'·' runs, JSON with person keys, key=value runs, capitalised Latin runs, random Han.
Each is timed (CPU, ``time.process_time``) at 2 KB, 20 KB, 200 KB and 1 MB and the
CPU per KB is printed; a case whose per-KB cost grows with size is flagged, and so is
one that is linear but far above the documented worst rate (``COSTLY_MS_PER_KB``):
an 8 MiB body of it would hold a scan worker for minutes.

    .venv/bin/python benchmarks/privacy_scaling.py            # all cases, all sizes
    .venv/bin/python benchmarks/privacy_scaling.py --case digits_dash --sizes 2,200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable

from plinth.privacy.detectors import detect

KB = 1024


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


def _random_han(n: int) -> str:
    """Han characters drawn from the whole CJK block, with a comma now and then."""
    rng = random.Random(8)
    return "".join(
        "，" if rng.random() < 0.05 else chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n)
    )


def _json_person(n: int) -> str:
    """Objects nested as deep as the size allows, every key a person's field."""
    depth = max(1, n // 40)
    opens = "".join(f'{{"contact_person_name_{i % 10}": ' for i in range(depth))
    return (opens + '"王小明"' + "}" * depth)[:n]


def _json_long_keys(n: int) -> str:
    rng = random.Random(3)
    items = []
    size = 0
    while size < n:
        key = "customerFullName" * rng.randint(1, 50)
        items.append(json.dumps({key: "张三丰"}, ensure_ascii=False))
        size += len(items[-1]) + 1
    return ",".join(items)[:n]


CASES: dict[str, Callable[[int], str]] = {
    "surname_run": _repeat("王"),
    "surname_pair_run": _repeat("王李"),
    "surname_title_run": _repeat("王经理"),
    "surname_title_mixed": _repeat("王总李经理张老师"),
    "compound_surname_run": _repeat("欧阳"),
    "address_suffix_run": _repeat("路号栋室省市区县镇街道村弄巷楼层单元"),
    "address_suffix_digits": _repeat("1路2号3栋4室"),
    "province_city_run": _repeat("广东省广州市天河区"),
    "digits": _repeat("1234567890"),
    "digits_dash": _repeat("1-2-3-4-5-6-7-8-9-0-"),
    "digits_dot": _repeat("1.2.3.4.5.6.7.8.9.0."),
    "digits_space": _repeat("1 2 3 4 5 6 7 8 9 0 "),
    "digits_paren": _repeat("(1)2(3)4-5 6.7"),
    "digits_plus": _repeat("+86 138 0013 8000 +"),
    "list_separators": _repeat("、"),
    "name_list": _repeat("王芳、"),
    "middle_dots": _repeat("·"),
    "translit_dots": _repeat("阿·"),
    "translit_run": _repeat("阿依努尔"),
    "json_person_nested": _json_person,
    "json_long_keys": _json_long_keys,
    "key_value_run": _repeat("name=王小明&"),
    "key_colon_run": _repeat("联系人：王小明，"),
    "capitalised_run": _repeat("Mark Grace "),
    "capitalised_nospace": _repeat("MarkGrace"),
    "english_address": _repeat("12 Main Street "),
    "emails_at": _repeat("a@"),
    "colons": _repeat(":"),
    "hex_colons": _repeat("ab:"),
    "random_han": _random_han,
    "pem_begin_run": _repeat("-----BEGIN PRIVATE KEY-----\nMIIE"),
    "pem_no_end": lambda n: ("-----BEGIN RSA PRIVATE KEY-----\n" + "A" * n)[:n],
    "ipv6_run": _repeat("1:2:3:4:5:6:7:"),
    "double_colons": _repeat("a::"),
    "email_dots": lambda n: ("a." * n)[: n - 2] + "@x",
    "email_domain_dots": lambda n: ("a@" + "b." * n)[:n],
    "api_key_prefix_run": _repeat("sk-"),
    "bearer_run": _repeat("Bearer "),
    "iban_like": _repeat("GB82WEST"),
    "plate_like": _repeat("京A"),
    "passport_like": _repeat("E1234567"),
    "name_column_table": lambda n: ("姓名\t电话\n" + "王芳\t13800138000\n" * n)[:n],
    "name_header_run": _repeat("姓名\n"),
    "han_line_run": _repeat("王\n"),
    "newlines": _repeat("\n"),
    "record_rows": _repeat("王芳 13800138000 北京市朝阳区建国路8号\n"),
    "english_titles": _repeat("Mr. Smith "),
    "english_list": _repeat("Mark, Grace, "),
    "english_name_column": lambda n: ("Name\n" + "Mark Grace\n" * n)[:n],
    "cue_run": _repeat("姓名："),
    "old_young": _repeat("老王小李"),
    # Latin names by shape (names_en): each unit is one candidate checked against the lists.
    "given_after_han": _repeat("我们和Zoe"),
    "paired_given_names": _repeat("Jack和Lily，"),
    "mail_header_run": _repeat("Ahmad Faiz <a@b.my>, "),
    "latin_name_amid_han": _repeat("Lim Siew Ling 是"),
    # 阿X and 老X/小X names, Japanese surnames before さん.
    "a_prefix_run": _repeat("阿芬你"),
    "old_word_surname_run": _repeat("老包配合"),
    "japanese_san_run": _repeat("田中さん"),
    "mixed_name_list": _repeat("王芳、Kevin、"),
    "mixed_name_spaces": _repeat("王芳 Kevin 李娜 "),
    # Today's rules (names_frames, names_veto, address_cues, +86 landlines, phone groups):
    # each unit hits one of them at every repeat.
    "frame_object_speech": _repeat("跟王芳说"),
    "frame_agent": _repeat("常青把车借走了。"),
    "frame_spoken_to": _repeat("王芳你"),
    "frame_leave": _repeat("蓝海请了婚假。"),
    "veto_company_run": _repeat("王芳有限"),
    "veto_place_list": _repeat("福州、王芳、宁德、"),
    "veto_sender_tag": _repeat("【王芳】"),
    "address_cue_run": _repeat("住在地址寄快递"),
    "block_chain": _repeat("1栋2单元3号楼4楼"),
    "estate_commas": _repeat("阳光小区，"),
    "cn_landline_intl": _repeat("+86 10 8518 2063 "),
    "phone_groups": _repeat("+1 23 45 "),
    # Found by a hill climb on 2 KB texts (units of surnames, titles, list marks):
    # the dearest shapes per character.
    "listed_surnames": _repeat("、廖华"),
    "surname_title_pairs": _repeat("桂顾董"),
}
#: CPU per KB above which a case is flagged even if linear: the scan's documented worst
#: is ~16 us a character (a run of surnames), ~16 ms a KB.
COSTLY_MS_PER_KB = 40.0


def cpu_of(text: str) -> float:
    started = time.process_time()
    detect(text)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="case name (repeatable); all if none")
    parser.add_argument("--sizes", default="2,20,200,1024", help="sizes in KB (characters)")
    parser.add_argument("--ratio", type=float, default=3.0, help="flag growth above this")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    names = args.case or list(CASES)
    print(
        f"load average {os.getloadavg()[0]:.1f}; CPU ms per KB at "
        + ", ".join(f"{s} KB" for s in sizes)
    )
    flagged = []
    for name in names:
        per_kb = []
        for size in sizes:
            text = CASES[name](size * KB)
            per_kb.append(cpu_of(text) * 1000 / size)
        # The smallest size is dominated by fixed costs; growth is judged from the second.
        rest = per_kb[1:] if len(per_kb) > 2 else per_kb
        growth = max(rest) / max(rest[0], 1e-3)
        mark = "  SUPER-LINEAR?" if growth > args.ratio else ""
        if max(per_kb) > COSTLY_MS_PER_KB:
            mark += f"  COSTLY (over {COSTLY_MS_PER_KB:g} ms/KB)"
        if mark:
            flagged.append(name)
        print(f"{name:24s} " + " ".join(f"{v:8.3f}" for v in per_kb) + mark, flush=True)
    print("flagged:", ", ".join(flagged) or "none")


if __name__ == "__main__":
    main()
