"""Build ``english_given_names.txt`` and ``english_surnames.txt`` (names in Latin script).

Not imported at run time. The source is the person-name data that the ``Faker``
package ships (MIT licence; lists per locale: en, en_GB, en_IN, en_NG, fr_FR,
de_DE, es_*, it_IT, pt_BR, vi_VN, tr_TR, sw, yo_NG, zu_ZA … 60 locales with
Latin-script names). Faker is no dependency of Plinth; install it apart:

    python -m venv /tmp/names && /tmp/names/bin/pip install faker
    PYTHONPATH=src /tmp/names/bin/python -P src/plinth/privacy/build_english_names.py

(``-P``: the package folder holds a ``numbers.py`` that would shadow the standard one.)

- given names: every first name of those locales; the ones that are also common
  English words (``Will``, ``May``, ``Mark``: Faker's own English word list, plus
  ``AMBIGUOUS`` below) are written with a leading ``*``.
- surnames: every last name of those locales, plus ``PINYIN_SURNAMES`` (Chinese
  surnames as people write them in Latin script, Mandarin and Cantonese
  spellings: written by hand, Faker has none).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from plinth.privacy.gazetteer import words

HERE = Path(__file__).parent
# Given names that are also everyday capitalised words in English prose or tech text.
AMBIGUOUS = frozenset(
    words(
        "Will May June April August Mark Bill Grant Rose Page Hope Faith Joy Grace Summer Autumn "
        "Art Sue Pat Rich Guy Chase Frank Hunter Dean Major Royal Sterling Lane Case Max Sky River "
        "Jordan Georgia Florida Virginia Carolina Dakota Austin Paris London Sydney Victoria "
        "Chester Lincoln Ford Tesla Apple Amazon Angel Baby Candy Cash Chance Christian Crystal "
        "Dawn Destiny Diamond Dusty Easter Ebony Ember Fern Forest Gene Glen Happy Harmony Heaven "
        "Holly Honey Iris Ivy Jade Jasmine Jet King Lily Lucky Marina Mercedes Misty Noble Ocean "
        "Pearl Penny Pepper Queen Rain Raven Robin Ruby Rusty Sandy Scarlet Shadow Silver Sonny "
        "Star Stormy Sunny Tiger Trinity Unique Velvet Violet Wade Warren Wendy Young Nova Java "
        "Julia Kotlin Swift Rust Go Echo Delta Alpha Beta Gamma Sierra Tango Oscar Victor Juliet "
        "Romeo Hotel India Kilo Lima Mike Papa Quebec Uniform Whiskey Yankee Zulu Don Long Price "
        "Early Best Green Brown White Black Gray Grey Bishop Church Deacon Pope Cardinal Prince "
        "Duke Earl Baron Rex Regina Tiny Buddy Champ Ace Blue Red Gold Rocky Stone Clay Flint "
        "Storm Blaze Sage Aspen Willow Hazel Olive Poppy Daisy Rosemary Basil Cherry Berry"
    )
)
PINYIN_SURNAMES = words(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo "
    "Zheng Liang Xie Song Tang Xu Han Feng Deng Cao Peng Zeng Xiao Tian Dong Yuan Pan Yu "
    "Jiang Cai Du Ye Cheng Su Wei Lu Ding Ren Shen Yao Cui Zhong Tan Fan Jin Shi Liao Jia "
    "Xia Fu Fang Bai Zou Meng Xiong Qin Qiu Yin Xue Yan Duan Lei Hou Long Shi Tao Li He Gu "
    "Mao Hao Gong Shao Wan Qian Yan Qin Kong Xiang Chang Wen Kang Shi Niu Fan Ge Xing An "
    "Qi Qiao Wu Pang Ni Zhuang Nie Zhang Lu Yue Zhai Yin Zhan Shen Ou Geng Guan Lan Jiao "
    "Ouyang Shangguan Sima Zhuge Situ Murong "
    "Wong Chan Cheung Leung Ng Lee Lau Ho Tang Lam Yip Tsang Chow Tan Lim Goh Ong Teo Koh "
    "Chua Yeo Chong Kwok Fung Tse Choi Mak Hui Law Yeung Poon Kwan Chu Siu Lo Ko Au Yuen "
    "Chiu Cheng Kuo Hsu Tsai Hsieh Chang Huang Liu Lin Wu Kao Chou Yeh"
)


def _names(provider: type, attribute: str) -> list[str]:
    value = getattr(provider, attribute, None)
    if value is None or isinstance(value, property):
        return []
    try:
        return list(value.keys()) if isinstance(value, dict) else list(value)
    except TypeError:
        return []


def _latin(name: str) -> bool:
    return (
        len(name) >= 2
        and name[0].isupper()
        and all(ch.isalpha() or ch in "-'" for ch in name)
        and all(ord(ch) < 0x250 for ch in name)
    )


def main() -> None:
    import faker.providers.person as people  # type: ignore[import-not-found]
    from faker.providers.lorem.en_US import Provider as Lorem  # type: ignore[import-not-found]

    common_words = {word.lower() for word in Lorem.word_list}
    given: set[str] = set()
    surnames: set[str] = set(PINYIN_SURNAMES)
    for module in pkgutil.iter_modules(people.__path__):
        try:
            provider = importlib.import_module(f"{people.__name__}.{module.name}").Provider
        except (ImportError, AttributeError):
            continue
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            given.update(n for n in _names(provider, attribute) if _latin(n))
        surnames.update(n for n in _names(provider, "last_names") if _latin(n))
    given = {n if n.lower() not in common_words and n not in AMBIGUOUS else f"*{n}" for n in given}
    surnames = {n for n in surnames if n.lower() not in common_words}
    (HERE / "english_given_names.txt").write_text("\n".join(sorted(given)) + "\n")
    (HERE / "english_surnames.txt").write_text("\n".join(sorted(surnames)) + "\n")
    print(f"{len(given)} given names, {len(surnames)} surnames")


if __name__ == "__main__":
    main()
