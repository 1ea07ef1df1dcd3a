from plinth.knowledge.segment import analyze


def test_english_is_lowercased_stemmed_and_stopped() -> None:
    assert analyze("The Running of the Bulls in Pamplona") == ["run", "bull", "pamplona"]


def test_chinese_is_segmented_into_words_and_their_parts() -> None:
    terms = analyze("中华人民共和国的首都是北京")
    assert "北京" in terms and "首都" in terms
    assert "人民" in terms and "共和国" in terms  # search mode: parts of the long word too
    assert "的" not in terms


def test_mixed_chinese_and_english_keep_both() -> None:
    terms = analyze("使用Python进行机器学习 experiments")
    assert "python" in terms and "机器" in terms and "experi" in terms
