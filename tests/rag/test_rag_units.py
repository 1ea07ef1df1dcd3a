"""The RAG pieces on their own: citation markers, merging hits, the prompt, the request."""

from __future__ import annotations

import pytest

from plinth.api.responses_objects import ending, usage
from plinth.errors import InvalidRequest, UnsupportedParameter
from plinth.knowledge.index import Hit
from plinth.protocol.responses import ResponsesRequest
from plinth.rag.citations import CitationParser, cite
from plinth.rag.prompt import NO_SOURCES, grounded_messages, search_query
from plinth.vectorstores.retrieve import Source, merge

SOURCES = [
    Source("file-a", "a.txt", "alpha", 0.9),
    Source("file-b", "b.txt", "beta", 0.8),
    Source("file-a", "a.txt", "alpha two", 0.7),
]


def cited(index: int, source: Source) -> dict[str, object]:
    return {
        "type": "file_citation",
        "index": index,
        "file_id": source.file_id,
        "filename": source.filename,
    }


def test_markers_become_annotations_at_their_position() -> None:
    text, annotations = cite("One [1]. Two [2][3]. Both [1, 2]", SOURCES)
    assert text == "One. Two. Both"
    assert annotations == [
        cited(3, SOURCES[0]),
        cited(8, SOURCES[1]),
        cited(8, SOURCES[2]),
        cited(14, SOURCES[0]),
        cited(14, SOURCES[1]),
    ]


def test_one_file_cited_twice_at_one_place_is_one_annotation() -> None:
    # Sources 1 and 3 are two chunks of the same file.
    assert cite("Alpha [1][3].", SOURCES)[1] == [cited(5, SOURCES[0])]


def test_numbers_that_name_no_source_stay_text() -> None:
    assert cite("In [2023] and [0] and [4].", SOURCES) == ("In [2023] and [0] and [4].", [])


def test_full_width_markers() -> None:
    assert cite("长城很长【1】。", SOURCES) == ("长城很长。", [cited(4, SOURCES[0])])


def test_no_citation_no_annotation() -> None:
    assert cite("Nothing cited here.", SOURCES) == ("Nothing cited here.", [])


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_a_stream_split_anywhere_gives_the_same_result(size: int) -> None:
    answer = "One [1]. Two [2][3]. Year [2023]. Both [1, 2] end ["
    parser = CitationParser(SOURCES)
    texts, annotations = [], []
    for start in range(0, len(answer), size):
        for text, found in parser.steps(answer[start : start + size]):
            # Each annotation points at the end of the text streamed before it.
            texts.append(text)
            assert all(a["index"] == len("".join(texts)) for a in found)
            annotations += found
    texts.append(parser.finish())
    assert ("".join(texts), annotations) == cite(answer, SOURCES)
    assert "".join(texts).endswith("end [")


def test_merge_keeps_the_best_copy_and_the_limit() -> None:
    hits = [
        Hit("file-a", 1, 0, "same text", 0.4),
        Hit("file-b", 2, 0, "other", 0.6),
        Hit("file-a", 7, 0, "same text", 0.8),  # the same chunk, found in another store
        Hit("file-c", 3, 0, "third", 0.1),
    ]
    merged = merge(hits, 2)
    assert [(h.file_id, h.score) for h in merged] == [("file-a", 0.8), ("file-b", 0.6)]


def test_grounded_prompt_numbers_sources_in_the_last_user_turn() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    assert search_query(messages) == "second question"
    grounded = grounded_messages(messages, SOURCES[:2])
    assert grounded[:3] == messages[:3]
    last = grounded[3]["content"]
    assert "[1] a.txt\nalpha\n\n[2] b.txt\nbeta" in last
    assert last.endswith("Question: second question")
    assert messages[3]["content"] == "second question"  # the caller's list is untouched
    assert NO_SOURCES in grounded_messages(messages, [])[3]["content"]


def test_request_turns_items_into_chat_messages() -> None:
    request = ResponsesRequest.model_validate(
        {
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                {"type": "message", "role": "user", "content": "hi"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "hello", "annotations": []}],
                },
                {"role": "user", "content": [{"type": "input_text", "text": "again"}]},
            ],
        }
    )
    assert request.messages() == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    assert request.file_search is None


def test_file_search_tool_defaults_and_tool_choice() -> None:
    tool = {"type": "file_search", "vector_store_ids": ["vs_1"]}
    request = ResponsesRequest.model_validate({"model": "m", "input": "q", "tools": [tool]})
    assert request.file_search is not None
    assert request.file_search.echo()["max_num_results"] == 10
    off = ResponsesRequest.model_validate(
        {"model": "m", "input": "q", "tools": [tool], "tool_choice": "none"}
    )
    assert off.file_search is None and off.file_search_tool is not None
    with pytest.raises(InvalidRequest) as error:
        ResponsesRequest.model_validate({"model": "m", "input": "q", "tools": [tool, tool]})
    assert error.value.param == "tools[1]"
    with pytest.raises(UnsupportedParameter) as error:
        ResponsesRequest.model_validate(
            {"model": "m", "input": "q", "tools": [{**tool, "vector_store": "x"}]}
        )
    assert error.value.param == "tools[0].vector_store"


def test_usage_and_endings() -> None:
    assert usage({"prompt_tokens": 5, "completion_tokens": 2}) == {
        "input_tokens": 5,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 7,
    }
    assert ending("stop") == ("completed", None)
    assert ending("length") == ("incomplete", {"reason": "max_output_tokens"})
