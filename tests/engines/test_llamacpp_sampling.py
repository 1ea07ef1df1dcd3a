"""The repetition penalty local models get when a request names none."""

from __future__ import annotations

from plinth.engines.llamacpp_sampling import REPEAT_LAST_N, REPEAT_PENALTY, with_sampling_defaults


def test_a_request_without_penalties_gets_the_default() -> None:
    body = {"messages": [], "temperature": 0}
    sent = with_sampling_defaults(body)
    assert sent["repeat_penalty"] == REPEAT_PENALTY and sent["repeat_last_n"] == REPEAT_LAST_N
    assert sent["temperature"] == 0 and "repeat_penalty" not in body  # not mutated


def test_a_request_with_its_own_penalty_keeps_it() -> None:
    for field in ("repeat_penalty", "frequency_penalty", "presence_penalty"):
        body = {"messages": [], field: 0.0}
        assert with_sampling_defaults(body) == body
