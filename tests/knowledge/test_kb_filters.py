import pytest

from plinth.errors import FilterError
from plinth.knowledge.filters import matches, parse_filter, validate_attributes

ATTRS = {"author": "ada", "year": 2021, "draft": False}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"type": "eq", "key": "author", "value": "ada"}, True),
        ({"type": "ne", "key": "author", "value": "ada"}, False),
        ({"type": "gt", "key": "year", "value": 2020}, True),
        ({"type": "gte", "key": "year", "value": 2021}, True),
        ({"type": "lt", "key": "year", "value": 2021}, False),
        ({"type": "lte", "key": "year", "value": 2021.5}, True),
        ({"type": "eq", "key": "draft", "value": False}, True),
        ({"type": "eq", "key": "missing", "value": 1}, False),
        ({"type": "gt", "key": "author", "value": 3}, False),  # string vs number
        (
            {
                "type": "and",
                "filters": [
                    {"type": "eq", "key": "author", "value": "ada"},
                    {
                        "type": "or",
                        "filters": [
                            {"type": "lt", "key": "year", "value": 2000},
                            {"type": "eq", "key": "draft", "value": False},
                        ],
                    },
                ],
            },
            True,
        ),
        (
            {"type": "or", "filters": [{"type": "eq", "key": "author", "value": "bob"}]},
            False,
        ),
        ({"type": "in", "key": "author", "value": ["bob", "ada"]}, True),
        ({"type": "in", "key": "author", "value": ["bob"]}, False),
        ({"type": "in", "key": "year", "value": [2020, 2021.0]}, True),
        ({"type": "in", "key": "year", "value": ["2021"]}, False),  # a string is not a number
        ({"type": "in", "key": "draft", "value": [0, "false"]}, False),  # nor a boolean
        ({"type": "in", "key": "missing", "value": ["x"]}, False),
        ({"type": "nin", "key": "author", "value": ["bob", "eve"]}, True),
        ({"type": "nin", "key": "author", "value": ["bob", "ada"]}, False),
        ({"type": "nin", "key": "year", "value": ["2021", 1999]}, True),
        ({"type": "nin", "key": "missing", "value": ["x"]}, False),  # like ne: needs the key
        (
            {
                "type": "and",
                "filters": [
                    {"type": "in", "key": "author", "value": ["ada"]},
                    {"type": "nin", "key": "year", "value": [2020]},
                ],
            },
            True,
        ),
    ],
)
def test_filters(raw: dict[str, object], expected: bool) -> None:
    assert matches(parse_filter(raw), ATTRS) is expected


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "like", "key": "a", "value": 1},
        {"type": "eq", "value": 1},
        {"type": "eq", "key": "a", "value": [1]},
        {"type": "in", "key": "a", "value": "x"},  # in/nin take a list
        {"type": "nin", "key": "a", "value": []},
        {"type": "in", "key": "a", "value": [True]},  # of strings and numbers only
        {"type": "in", "key": "a", "value": [["x"]]},
        {"type": "in", "value": ["x"]},
        {"type": "and", "filters": []},
        "eq",
    ],
)
def test_bad_filters_are_refused(raw: object) -> None:
    with pytest.raises(FilterError):
        parse_filter(raw)


def test_attribute_limits() -> None:
    with pytest.raises(FilterError):
        validate_attributes({f"k{i}": i for i in range(17)})
    with pytest.raises(FilterError):
        validate_attributes({"k": {"nested": 1}})
    assert validate_attributes(None) == {}
