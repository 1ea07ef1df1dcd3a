import pytest

from plinth.knowledge.filters import FilterError, matches, parse_filter, validate_attributes

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
