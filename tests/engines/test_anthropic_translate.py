"""OpenAI Chat Completions ⇄ Anthropic Messages translation, function by function."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from plinth.engines.anthropic_answer import (
    StreamTranslator,
    error_from_anthropic,
    from_messages_response,
)
from plinth.engines.anthropic_request import DEFAULT_MAX_TOKENS, to_messages_request
from plinth.errors import (
    EngineError,
    InvalidRequest,
    UnsupportedParameter,
    UpstreamError,
    UpstreamRateLimited,
)

Json = dict[str, Any]

PNG_URL = "data:image/png;base64,iVBORw0KGgo="
WEB_URL = "https://example.test/cat.jpg"


def user(content: Any) -> Json:
    return {"role": "user", "content": content}


def assistant(content: Any = None, **extra: Any) -> Json:
    return {"role": "assistant", "content": content, **extra}


def tool(call_id: str, content: Any) -> Json:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def call(call_id: str, name: str, arguments: str) -> Json:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def text(value: str) -> Json:
    return {"type": "text", "text": value}


def translate(messages: list[Json], **params: Any) -> Json:
    return to_messages_request({"messages": messages, **params}, "claude-up")


# --- requests: system, content, alternation ----------------------------------


@pytest.mark.parametrize(
    ("messages", "system"),
    [
        ([user("hi")], None),
        ([{"role": "system", "content": "A"}, user("hi")], "A"),
        (
            [{"role": "system", "content": "A"}, {"role": "developer", "content": "B"}, user("hi")],
            "A\n\nB",
        ),
        (
            [{"role": "system", "content": [text("A1"), text("A2")]}, user("hi")],
            "A1A2",
        ),
        (  # a system message in mid-conversation joins the others, in order
            [
                {"role": "system", "content": "A"},
                user("hi"),
                assistant("yo"),
                {"role": "developer", "content": "C"},
                user("again"),
            ],
            "A\n\nC",
        ),
        ([{"role": "system", "content": ""}, user("hi")], None),
    ],
)
def test_system_and_developer_messages_become_the_system_field(
    messages: list[Json], system: str | None
) -> None:
    out = translate(messages)
    assert out.get("system") == system
    assert all(turn["role"] in ("user", "assistant") for turn in out["messages"])


def test_the_basic_request_shape() -> None:
    out = translate([user("hello")])
    assert out == {
        "model": "claude-up",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [text("hello")]}],
    }
    assert DEFAULT_MAX_TOKENS == 4096


def test_multi_part_content_with_images_and_a_pdf() -> None:
    out = translate(
        [
            user(
                [
                    text("Compare"),
                    {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "high"}},
                    {"type": "image_url", "image_url": {"url": WEB_URL}},
                    {"type": "image_url", "image_url": "http://example.test/b.gif"},
                    {
                        "type": "file",
                        "file": {
                            "filename": "a.pdf",
                            "file_data": "data:application/pdf;base64,JVBE",
                        },
                    },
                ]
            )
        ]
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [
                text("Compare"),
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
                {"type": "image", "source": {"type": "url", "url": WEB_URL}},
                {"type": "image", "source": {"type": "url", "url": "http://example.test/b.gif"}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                },
            ],
        }
    ]


@pytest.mark.parametrize(
    ("part", "error", "param"),
    [
        (
            {"type": "image_url", "image_url": {"url": "data:image/png,raw"}},
            InvalidRequest,
            "messages[0].content[1].image_url.url",
        ),
        (
            {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}},
            InvalidRequest,
            "messages[0].content[1].image_url.url",
        ),
        (
            {"type": "image_url", "image_url": {"url": "ftp://example.test/a.png"}},
            InvalidRequest,
            "messages[0].content[1].image_url.url",
        ),
        (
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            UnsupportedParameter,
            "messages[0].content[1]",
        ),
        (
            {"type": "file", "file": {"file_id": "file-1"}},
            UnsupportedParameter,
            "messages[0].content[1].file",
        ),
        (
            {"type": "file", "file": {"file_data": "data:text/csv;base64,YSxi"}},
            UnsupportedParameter,
            "messages[0].content[1].file",
        ),
    ],
)
def test_untranslatable_parts_are_refused_with_their_place(
    part: Json, error: type[Exception], param: str
) -> None:
    with pytest.raises(error) as caught:
        translate([user([text("look"), part])])
    assert type(caught.value) is error
    assert getattr(caught.value, "param", None) == param


def test_consecutive_same_role_turns_merge_so_roles_alternate() -> None:
    out = translate(
        [
            user("one"),
            user([text("two")]),
            assistant("three"),
            assistant("four"),
            assistant(""),  # empty: nothing to send
            user("five"),
        ]
    )
    assert out["messages"] == [
        {"role": "user", "content": [text("one"), text("two")]},
        {"role": "assistant", "content": [text("three"), text("four")]},
        {"role": "user", "content": [text("five")]},
    ]


def test_assistant_refusal_parts_go_as_text() -> None:
    out = translate(
        [user("q"), assistant([{"type": "refusal", "refusal": "I can't."}]), user("ok")]
    )
    assert out["messages"][1] == {"role": "assistant", "content": [text("I can't.")]}


def test_a_request_without_turns_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate([{"role": "system", "content": "only rules"}])
    assert caught.value.param == "messages"


# --- requests: tools ---------------------------------------------------------


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        "strict": True,
    },
}


def test_tools_tool_calls_and_tool_results_translate() -> None:
    out = translate(
        [
            user("Weather in Paris and Oslo?"),
            assistant(
                "Checking.",
                tool_calls=[
                    call("call_1", "weather", '{"city": "Paris"}'),
                    call("call_2", "weather", '{"city":"Oslo"}'),
                ],
            ),
            tool("call_1", "sunny"),
            tool("call_2", [text("win"), text("dy")]),
            user("And tomorrow?"),
        ],
        tools=[WEATHER_TOOL, {"type": "function", "function": {"name": "now"}}],
    )
    assert out["tools"] == [
        {
            "name": "weather",
            "description": "Weather for a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in out
    assert out["messages"] == [
        {"role": "user", "content": [text("Weather in Paris and Oslo?")]},
        {
            "role": "assistant",
            "content": [
                text("Checking."),
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "windy"},
                text("And tomorrow?"),
            ],
        },
    ]


def test_tool_results_lead_a_user_turn_even_after_user_text() -> None:
    out = translate(
        [
            user("go"),
            assistant(None, tool_calls=[call("c1", "f", "")]),
            user("note"),
            tool("c1", "done"),
        ]
    )
    assert out["messages"][1]["content"] == [
        {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    ]
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "done"},
        text("note"),
    ]


@pytest.mark.parametrize("arguments", ["{", "[1, 2]", '"text"', "null"])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(
            [
                user("x"),
                assistant(None, tool_calls=[call("a", "f", "{}"), call("b", "f", arguments)]),
            ]
        )
    assert caught.value.param == "messages[1].tool_calls[1].function.arguments"


def test_a_tool_message_needs_its_call_id() -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate([user("x"), {"role": "tool", "content": "r"}])
    assert caught.value.param == "messages[1].tool_call_id"


def test_non_function_tools_are_refused() -> None:
    with pytest.raises(UnsupportedParameter) as caught:
        translate([user("x")], tools=[WEATHER_TOOL, {"type": "custom", "custom": {"name": "c"}}])
    assert caught.value.param == "tools[1]"


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            None,
            {"type": "tool", "name": "weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (
            {"type": "function", "function": {"name": "weather"}},
            False,
            {"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
        ),
        ("none", False, {"type": "none"}),
        ("required", True, {"type": "any"}),
    ],
)
def test_tool_choice_and_parallel_tool_calls(
    tool_choice: Any, parallel: bool | None, expected: Json | None
) -> None:
    params: Json = {"tools": [WEATHER_TOOL]}
    if tool_choice is not None:
        params["tool_choice"] = tool_choice
    if parallel is not None:
        params["parallel_tool_calls"] = parallel
    out = translate([user("x")], **params)
    assert out.get("tool_choice") == expected


@pytest.mark.parametrize(
    ("tool_choice", "outcome"),
    [
        ("auto", None),
        ("none", None),
        ("required", InvalidRequest),
        ({"type": "function", "function": {"name": "f"}}, InvalidRequest),
    ],
)
def test_tool_choice_without_tools(tool_choice: Any, outcome: type[Exception] | None) -> None:
    if outcome is None:
        assert "tool_choice" not in translate([user("x")], tool_choice=tool_choice)
    else:
        with pytest.raises(outcome) as caught:
            translate([user("x")], tool_choice=tool_choice)
        assert getattr(caught.value, "param", None) == "tool_choice"


@pytest.mark.parametrize(
    "tool_choice", ["sometimes", {"type": "allowed_tools"}, {"type": "custom", "name": "x"}]
)
def test_unknown_tool_choices_are_refused(tool_choice: Any) -> None:
    with pytest.raises(UnsupportedParameter) as caught:
        translate([user("x")], tools=[WEATHER_TOOL], tool_choice=tool_choice)
    assert caught.value.param == "tool_choice"


# --- requests: sampling and limits -------------------------------------------


@pytest.mark.parametrize(
    ("params", "max_tokens"),
    [
        ({}, 4096),
        ({"max_tokens": 100}, 100),
        ({"max_completion_tokens": 200}, 200),
        ({"max_tokens": 100, "max_completion_tokens": 200}, 200),
    ],
)
def test_max_tokens(params: Json, max_tokens: int) -> None:
    assert translate([user("x")], **params)["max_tokens"] == max_tokens


@pytest.mark.parametrize(
    ("temperature", "sent"),
    [(0, 0.0), (0.3, 0.3), (1, 1.0), (1.2, 1.0), (2, 1.0), (-0.5, 0.0)],
)
def test_temperature_is_clamped_into_anthropics_range(temperature: float, sent: float) -> None:
    assert translate([user("x")], temperature=temperature)["temperature"] == sent


@pytest.mark.parametrize(
    ("stop", "sequences"),
    [("END", ["END"]), (["a", "b"], ["a", "b"]), (None, None), ("", None), (["", "z"], ["z"])],
)
def test_stop_becomes_stop_sequences(stop: Any, sequences: list[str] | None) -> None:
    assert translate([user("x")], stop=stop).get("stop_sequences") == sequences


def test_top_p_user_and_stream_carry_over_and_client_only_fields_do_not() -> None:
    out = translate(
        [user("x")],
        top_p=0.9,
        user="user-42",
        stream=True,
        stream_options={"include_usage": True},
        store=False,
        service_tier="auto",
    )
    assert out == {
        "model": "claude-up",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [text("x")]}],
        "top_p": 0.9,
        "metadata": {"user_id": "user-42"},
        "stream": True,
    }
    assert "stream" not in translate([user("x")], stream=False)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"frequency_penalty": -1}, "frequency_penalty"),
        ({"seed": 7}, "seed"),
        ({"seed": 0}, "seed"),
        ({"n": 2}, "n"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {}},
                }
            },
            "response_format",
        ),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"reasoning_effort": "high"}, "reasoning_effort"),
        ({"web_search_options": {}}, "web_search_options"),
    ],
)
def test_parameters_without_an_equivalent_are_refused_by_name(params: Json, param: str) -> None:
    with pytest.raises(UnsupportedParameter) as caught:
        translate([user("x")], **params)
    assert caught.value.param == param
    assert param in caught.value.message and "Anthropic" in caught.value.message
    assert caught.value.code == "unsupported_parameter"


@pytest.mark.parametrize(
    "params",
    [
        {"logprobs": False},
        {"top_logprobs": 0},
        {"logit_bias": {}},
        {"presence_penalty": 0, "frequency_penalty": 0.0},
        {"n": 1},
        {"response_format": {"type": "text"}},
        {"response_format": {"type": "json_object"}},
        {"modalities": ["text"]},
    ],
)
def test_neutral_values_of_those_parameters_pass(params: Json) -> None:
    assert translate([user("x")], **params)["messages"] == [
        {"role": "user", "content": [text("x")]}
    ]


# --- answers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_every_stop_reason_maps(stop_reason: str | None, finish_reason: str) -> None:
    answer: Json = {"id": "msg_1", "content": [text("ok")], "stop_reason": stop_reason, "usage": {}}
    out = from_messages_response(answer, "public")
    assert out["choices"][0]["finish_reason"] == finish_reason


def test_an_answer_with_text_and_tool_calls() -> None:
    before = int(time.time())
    answer = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-up-2025",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            text("Let me "),
            text("check."),
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 30,
            "cache_creation_input_tokens": 20,
            "cache_read_input_tokens": 400,
        },
    }
    out = from_messages_response(answer, "public-claude")
    created = out.pop("created")
    assert isinstance(created, int) and before <= created <= int(time.time())
    assert out == {
        "id": "msg_01",
        "object": "chat.completion",
        "model": "public-claude",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me check.",
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                        },
                        {
                            "id": "toolu_2",
                            "type": "function",
                            "function": {"name": "now", "arguments": "{}"},
                        },
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 520,
            "completion_tokens": 30,
            "total_tokens": 550,
            "prompt_tokens_details": {"cached_tokens": 400},
        },
    }


def test_an_answer_with_only_a_tool_call_has_no_content_and_usage_defaults_to_zero() -> None:
    answer = {
        "id": "msg_2",
        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"ü": [1, None]}}],
        "stop_reason": "tool_use",
    }
    out = from_messages_response(answer, "m")
    message = out["choices"][0]["message"]
    assert message["content"] is None
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"ü": [1, None]}
    assert out["usage"] == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def test_a_text_answer_has_no_tool_calls_key() -> None:
    out = from_messages_response(
        {
            "id": "m",
            "content": [text("hi")],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
        "m",
    )
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "hi"}
    assert out["usage"]["total_tokens"] == 4


# --- streams -----------------------------------------------------------------


def ev(kind: str, **fields: Any) -> tuple[str, Json]:
    return kind, {"type": kind, **fields}


RECORDED_STREAM: list[tuple[str, Json]] = [
    ev(
        "message_start",
        message={
            "id": "msg_stream",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-up",
            "stop_reason": None,
            "usage": {
                "input_tokens": 25,
                "cache_creation_input_tokens": 5,
                "cache_read_input_tokens": 100,
                "output_tokens": 1,
            },
        },
    ),
    ev("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
    ev("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "Plan."}),
    ev("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "abc"}),
    ev("content_block_stop", index=0),
    ev("ping"),
    ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
    ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "Let me "}),
    ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "check Oslo."}),
    ev("content_block_stop", index=1),
    ev(
        "content_block_start",
        index=2,
        content_block={"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {}},
    ),
    ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": ""}),
    ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": '{"ci'}),
    ev(
        "content_block_delta",
        index=2,
        delta={"type": "input_json_delta", "partial_json": 'ty": "Os'},
    ),
    ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": 'lo"}'}),
    ev("content_block_stop", index=2),
    ev(
        "message_delta",
        delta={"stop_reason": "tool_use", "stop_sequence": None},
        usage={"output_tokens": 42},
    ),
    ev("message_stop"),
]


def feed_all(translator: StreamTranslator, events: list[tuple[str, Json]]) -> list[Json]:
    return [chunk for name, data in events for chunk in translator.feed(name, data)]


def test_a_recorded_stream_becomes_exactly_the_openai_chunks() -> None:
    translator = StreamTranslator("public-claude")
    chunks = feed_all(translator, RECORDED_STREAM)
    assert {c["id"] for c in chunks} == {"msg_stream"}
    assert {c["model"] for c in chunks} == {"public-claude"}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["created"] for c in chunks}) == 1
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"role": "assistant", "content": ""},
        {"content": "Let me "},
        {"content": "check Oslo."},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "toolu_9",
                    "type": "function",
                    "function": {"name": "weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Os'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'lo"}'}}]},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * 7 + ["tool_calls"]
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert "".join(d.get("content") or "" for d in deltas) == "Let me check Oslo."
    fragments = [t["function"]["arguments"] for d in deltas for t in d.get("tool_calls") or ()]
    assert json.loads("".join(fragments)) == {"city": "Oslo"}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 130,
        "completion_tokens": 42,
        "total_tokens": 172,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
    assert all("usage" not in c for c in chunks[:-1])


def test_two_tool_calls_get_their_own_indexes() -> None:
    events = [
        ev("message_start", message={"id": "m", "usage": {"input_tokens": 1, "output_tokens": 0}}),
        ev(
            "content_block_start",
            index=0,
            content_block={"type": "tool_use", "id": "a", "name": "f"},
        ),
        ev(
            "content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": "{}"}
        ),
        ev(
            "content_block_start",
            index=1,
            content_block={"type": "tool_use", "id": "b", "name": "g"},
        ),
        ev(
            "content_block_delta",
            index=1,
            delta={"type": "input_json_delta", "partial_json": '{"x'},
        ),
        ev(
            "content_block_delta",
            index=1,
            delta={"type": "input_json_delta", "partial_json": '":1}'},
        ),
        ev("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 9}),
        ev("message_stop"),
    ]
    chunks = feed_all(StreamTranslator("p"), events)
    calls = [
        t for c in chunks if c["choices"] for t in c["choices"][0]["delta"].get("tool_calls") or ()
    ]
    by_index: dict[int, str] = {}
    for t in calls:
        by_index[t["index"]] = by_index.get(t["index"], "") + t["function"]["arguments"]
    assert [(t["index"], t["id"]) for t in calls if "id" in t] == [(0, "a"), (1, "b")]
    assert by_index == {0: "{}", 1: '{"x":1}'}


def test_the_response_id_given_wins_and_text_in_block_start_is_kept() -> None:
    events = [
        ev("message_start", message={"id": "msg_x", "usage": {"input_tokens": 2}}),
        ev("content_block_start", index=0, content_block={"type": "text", "text": "Hi"}),
        ev("content_block_delta", index=0, delta={"type": "text_delta", "text": "!"}),
        ev("content_block_delta", index=0, delta={"type": "citations_delta", "citation": {}}),
        ev("message_delta", delta={"stop_reason": "max_tokens"}, usage={"output_tokens": 2}),
        ev("message_stop"),
    ]
    chunks = feed_all(StreamTranslator("p", response_id="chatcmpl-given"), events)
    assert {c["id"] for c in chunks} == {"chatcmpl-given"}
    assert [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks[:-1]] == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hi"}, None),
        ({"content": "!"}, None),
        ({}, "length"),
    ]
    assert chunks[-1]["usage"]["total_tokens"] == 4


def test_a_stream_without_a_stop_reason_still_finishes() -> None:
    events = [
        ev("message_start", message={"id": "m", "usage": {"input_tokens": 3, "output_tokens": 1}}),
        ev("content_block_delta", index=0, delta={"type": "text_delta", "text": "x"}),
        ev("message_delta", delta={}, usage={"output_tokens": 4}),
        ev("message_stop"),
    ]
    chunks = feed_all(StreamTranslator("p"), events)
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]] == [
        None,
        None,
        "stop",
    ]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("ping", {"type": "ping"}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("some_future_event", {"type": "some_future_event", "x": 1}),
        ("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 1}}),
    ],
)
def test_events_without_output_give_no_chunks(event: str, data: Json) -> None:
    translator = StreamTranslator("p")
    translator.feed("message_start", {"type": "message_start", "message": {"id": "m"}})
    assert translator.feed(event, data) == []


def test_the_event_name_is_used_when_data_has_no_type() -> None:
    translator = StreamTranslator("p")
    first = translator.feed("message_start", {"message": {"id": "m"}})
    assert [c["choices"][0]["delta"] for c in first] == [{"role": "assistant", "content": ""}]


@pytest.mark.parametrize(
    ("error", "exception", "words"),
    [
        ({"type": "overloaded_error", "message": "Overloaded"}, UpstreamError, "overloaded_error"),
        ({"type": "api_error", "message": "Internal"}, UpstreamError, "Internal"),
        ({"type": "rate_limit_error", "message": "Slow down"}, UpstreamRateLimited, "Slow down"),
        (None, UpstreamError, "no details"),
    ],
)
def test_error_events_raise_with_the_upstream_message(
    error: Json | None, exception: type[UpstreamError], words: str
) -> None:
    translator = StreamTranslator("p")
    translator.feed("message_start", {"type": "message_start", "message": {"id": "m"}})
    with pytest.raises(exception) as caught:
        translator.feed("error", {"type": "error", "error": error})
    assert type(caught.value) is exception and isinstance(caught.value, EngineError)
    assert words in caught.value.message
    if error:
        assert error["message"] in caught.value.message


# --- upstream errors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            ("overloaded_error", "Overloaded"),
        ),
        (
            400,
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "prompt is too long"},
                "request_id": "req_1",
            },
            ("invalid_request_error", "prompt is too long"),
        ),
        (429, None, ("rate_limit_error", "Anthropic answered HTTP 429 without details")),
        (401, {}, ("authentication_error", "Anthropic answered HTTP 401 without details")),
        (413, {"error": "too big"}, ("request_too_large", "too big")),
        (503, {"message": "upstream connect error"}, ("api_error", "upstream connect error")),
        (418, {"error": {"message": "teapot"}}, ("invalid_request_error", "teapot")),
        (
            404,
            {"error": {"type": "not_found_error"}},
            ("not_found_error", "Anthropic answered HTTP 404 without details"),
        ),
    ],
)
def test_error_from_anthropic(status: int, body: Json | None, expected: tuple[str, str]) -> None:
    assert error_from_anthropic(status, body) == expected
