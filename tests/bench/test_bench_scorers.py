"""Scorers and task sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from plinth.bench.scorers import json_schema, keywords, qa, qa_zh, schema_valid, token_f1
from plinth.bench.workloads import BUILTIN, load_workload

SCHEMA = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
}


def test_qa_exact_contained_and_partial() -> None:
    assert qa("Paris.", "Paris") == 1.0
    assert qa("It is the Pacific Ocean", "Pacific Ocean") == 1.0
    assert qa("Lyon", "Paris") == 0.0
    assert token_f1("william blake", "William Shakespeare") == pytest.approx(0.5)


def test_chinese_qa_by_character() -> None:
    assert qa_zh("答案是北京。", "北京") == 1.0
    assert qa_zh("南京", "北京") == pytest.approx(0.5)


def test_json_schema_validity_and_fields() -> None:
    reference = {"name": "Ann", "age": 30}
    assert json_schema('```json\n{"name": "Ann", "age": 30}\n```', reference, SCHEMA) == 1.0
    # Valid object, one field wrong: half for validity, a quarter for fields.
    assert json_schema('{"name": "Bob", "age": 30}', reference, SCHEMA) == pytest.approx(0.75)
    # Age as a string breaks the schema but still matches the value.
    assert json_schema('{"name": "Ann", "age": "30"}', reference, SCHEMA) == pytest.approx(0.5)
    assert json_schema("no json here", reference, SCHEMA) == 0.0
    assert not schema_valid({"name": "Ann", "age": True}, SCHEMA)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_workloads_load(name: str) -> None:
    workload = load_workload(name)
    # Short enough for a quick run; rag_qa has 32, enough to tell the local
    # sampling defaults apart (benchmarks/results/rag_qa_sampling.md).
    assert 10 <= len(workload.items) <= (40 if name == "rag_qa" else 20)
    assert len({item.id for item in workload.items}) == len(workload.items)


def test_user_jsonl_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"prompt": "2+2?", "reference": "4", "scorer": "qa"}\n', "utf-8")
    workload = load_workload(str(path))
    assert workload.name == "mine" and workload.items[0].reference == "4"
    path.write_text('{"prompt": "x", "scorer": "bleu"}\n', "utf-8")
    with pytest.raises(ValueError, match="unknown scorer"):
        load_workload(str(path))
    assert load_workload("rag_qa").corpus == "rag_qa_corpus.jsonl"


def test_keyword_recall() -> None:
    assert keywords("The Bakery was sold by Rosa.", ["bakery", "rosa", "olive bread"]) == (
        pytest.approx(2 / 3)
    )


def test_long_digest_is_long_and_every_key_phrase_is_in_its_articles() -> None:
    workload = load_workload("long_digest")
    for item in workload.items:
        assert len(item.prompt.split()) > 1000
        assert len(item.reference) == 32  # four key phrases for each of eight articles
        # Most phrases are the articles' own words (a few paraphrase them, as
        # the short summaries' do): a digest quoting the articles scores high.
        assert keywords(item.prompt, item.reference) >= 0.8
