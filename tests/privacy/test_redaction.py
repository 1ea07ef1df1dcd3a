"""Placeholders out, values back: whole answers, streams split anywhere, tool arguments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plinth.privacy.guard import PrivacyGuard, text_fields
from plinth.privacy.policy import PrivacyPolicy
from plinth.privacy.redaction import ChunkRestorer, Redactor, StreamRestorer, restore_answer

ID = "11010519491231002X"  # a valid resident ID (check digit X)
PHONE = "13812345678"
EMAIL = "zhang.wei@example.com"


def test_same_value_same_placeholder_and_types_numbered_apart() -> None:
    redactor = Redactor()
    text = redactor.redact(f"身份证{ID}，手机{PHONE}，备用 {PHONE}，邮箱 {EMAIL}")
    assert text == "身份证[CN_RESIDENT_ID_1]，手机[CN_MOBILE_1]，备用 [CN_MOBILE_1]，邮箱 [EMAIL_1]"
    assert redactor.values == {
        "[CN_RESIDENT_ID_1]": ID,
        "[CN_MOBILE_1]": PHONE,
        "[EMAIL_1]": EMAIL,
    }
    assert redactor.restore(text) == f"身份证{ID}，手机{PHONE}，备用 {PHONE}，邮箱 {EMAIL}"


def test_unknown_placeholders_and_brackets_are_left_alone() -> None:
    redactor = Redactor()
    redactor.redact(PHONE)
    assert redactor.restore("[CN_MOBILE_2] [x] [CN_MOBILE_1]") == f"[CN_MOBILE_2] [x] {PHONE}"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_stream_restores_placeholders_split_at_any_point(size: int) -> None:
    redactor = Redactor()
    redactor.redact(f"{PHONE} {EMAIL}")
    answer = "Call [CN_MOBILE_1] or write to [EMAIL_1]; [not a placeholder] ends with ["
    pieces = [answer[i : i + size] for i in range(0, len(answer), size)]
    restorer = StreamRestorer(redactor)
    out = "".join(restorer.feed(p) for p in pieces) + restorer.flush()
    assert out == f"Call {PHONE} or write to {EMAIL}; [not a placeholder] ends with ["


def test_stream_never_holds_back_more_than_a_possible_placeholder() -> None:
    redactor = Redactor()
    redactor.redact(PHONE)
    restorer = StreamRestorer(redactor)
    assert restorer.feed("plain text ") == "plain text "
    assert restorer.feed("then [CN_") == "then "
    assert restorer.feed("MOBILE_1] done") == f"{PHONE} done"


def test_values_restored_into_json_arguments_are_escaped() -> None:
    redactor = Redactor()
    key = '-----BEGIN PRIVATE KEY-----\nMIIEv"QI=\n-----END PRIVATE KEY-----'
    redactor.redact(f"my key {key}")
    arguments = '{"pem": "[PRIVATE_KEY_1]"}'
    assert json.loads(redactor.restore(arguments, json_string=True)) == {"pem": key}


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_chunk_restorer_handles_content_and_tool_arguments_across_chunks() -> None:
    redactor = Redactor()
    redactor.redact(f"{PHONE} {EMAIL}")
    chunks = [
        chunk({"role": "assistant", "content": "Calling [CN_MOB"}),
        chunk({"content": "ILE_1] now [EM"}),
        chunk(
            {"tool_calls": [{"index": 0, "function": {"name": "dial", "arguments": '{"n":"[CN'}}]}
        ),
        chunk(
            {"tool_calls": [{"index": 0, "function": {"arguments": '_MOBILE_1]","m":"[EMAIL_'}}]}
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '1]"}'}}]}),
        chunk({"content": "AIL_1"}, finish="tool_calls"),
    ]
    restorer = ChunkRestorer(redactor)
    for c in chunks:
        restorer.process(c)
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    arguments = "".join(
        call["function"].get("arguments", "")
        for c in chunks
        for call in c["choices"][0]["delta"].get("tool_calls") or ()
    )
    assert content == f"Calling {PHONE} now [EMAIL_1"  # the unfinished one is released as is
    assert json.loads(arguments) == {"n": PHONE, "m": EMAIL}


def test_whole_answers_are_restored_in_content_tool_calls_and_text() -> None:
    redactor = Redactor()
    redactor.redact(EMAIL)
    answer = {
        "choices": [
            {
                "message": {
                    "content": "mail [EMAIL_1]",
                    "tool_calls": [
                        {"function": {"name": "send", "arguments": '{"to":"[EMAIL_1]"}'}}
                    ],
                }
            },
            {"text": "[EMAIL_1]"},
        ]
    }
    restore_answer(answer, redactor)
    assert answer["choices"][0]["message"]["content"] == f"mail {EMAIL}"
    assert json.loads(
        answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    ) == {"to": EMAIL}
    assert answer["choices"][1]["text"] == EMAIL


def test_every_text_a_request_carries_is_inspected() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "t"}, {"type": "image_url"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "content": "r", "tool_call_id": "1"},
        ]
    }
    assert [(key, js) for _, key, js in text_fields(body)] == [
        ("content", False),
        ("text", False),
        ("arguments", True),
        ("content", False),
    ]
    assert len(text_fields({"input": ["a", "b"]})) == 2
    assert len(text_fields({"prompt": "p"})) == 1


def guard(**policies: PrivacyPolicy) -> PrivacyGuard:
    return PrivacyGuard(policies, "allow", b"k" * 32)


def test_the_strictest_triggered_rule_wins() -> None:
    policy = PrivacyPolicy(
        default_action="allow", rules={"EMAIL": "redact", "CN_RESIDENT_ID": "local_only"}
    )
    g = guard(hr=policy)
    assert g.inspect({"prompt": f"mail {EMAIL}"}, "hr").action == "redact"
    both = g.inspect({"prompt": f"mail {EMAIL} id {ID}"}, "hr")
    assert both.action == "local_only" and both.counts == {"CN_RESIDENT_ID": 1, "EMAIL": 1}
    assert g.inspect({"prompt": f"call {PHONE}"}, "hr").action == "allow"
    assert g.inspect({"prompt": "nothing here"}, "block").action == "allow"
    assert g.inspect({"prompt": f"call {PHONE}"}, "block").action == "block"


def test_inspection_hashes_values_with_the_key_and_redacts_a_copy() -> None:
    body = {"messages": [{"role": "user", "content": f"id {ID} phone {PHONE}"}]}
    inspection = guard().inspect(body, "redact")
    assert body["messages"][0]["content"] == f"id {ID} phone {PHONE}"  # untouched
    assert inspection.redacted_body is not None
    sent = inspection.redacted_body["messages"][0]["content"]
    assert sent == "id [CN_RESIDENT_ID_1] phone [CN_MOBILE_1]"
    hashes = {h["entity"]: h["hash"] for h in inspection.value_hashes}
    assert set(hashes) == {"CN_RESIDENT_ID", "CN_MOBILE"}
    assert all(len(h) == 32 and ID not in h and PHONE not in h for h in hashes.values())
    other_key = PrivacyGuard({}, "allow", b"z" * 32).inspect(body, "redact")
    assert {h["hash"] for h in other_key.value_hashes}.isdisjoint(hashes.values())


def test_unknown_default_policy_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not a policy"):
        PrivacyGuard({}, "paranoid", b"k")


def test_new_types_get_placeholders_restore_and_can_be_named_in_policies() -> None:
    text = "联系人：上官婉清，地址：杭州市西湖区文三路478号，车牌浙AD27183"
    policy = PrivacyPolicy(default_action="allow", rules={"PERSON": "redact", "CN_PLATE": "block"})
    g = guard(names=policy)
    assert g.inspect({"prompt": "联系人：上官婉清"}, "names").action == "redact"
    assert g.inspect({"prompt": text}, "names").action == "block"
    inspection = g.inspect({"prompt": text}, "redact")
    assert inspection.redacted_body is not None and inspection.redactor is not None
    sent = inspection.redacted_body["prompt"]
    assert sent == "联系人：[PERSON_1]，地址：[ADDRESS_1]，车牌[CN_PLATE_1]"
    assert inspection.redactor.restore(sent) == text


def test_a_policy_naming_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown entity types"):
        PrivacyPolicy(rules={"NAME": "block"})
