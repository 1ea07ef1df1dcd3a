"""detect_timed runs the same stages as detect and says what each one cost."""

from __future__ import annotations

from plinth.privacy.detectors import detect, detect_timed

MIXED = (
    "客户张经理，手机 138 0013 8000，地址：北京市朝阳区建国路88号SOHO现代城3号楼1202室。\n"
    "Card 4111 1111 1111 1111, mail ops@example.com, ship to 10 Downing Street, London."
)


def test_timed_detection_finds_what_detect_finds() -> None:
    times: dict[str, int] = {}
    assert detect_timed(MIXED, times) == detect(MIXED)


def test_every_stage_that_ran_is_timed_by_name() -> None:
    times: dict[str, int] = {}
    detect_timed(MIXED, times)
    expected = {
        "normalize",
        "triggers",
        "resolve",
        "numbers",
        "emails",
        "find_chinese_addresses",
        "english_addresses",
        "CN_PLATE",
    }
    assert expected <= times.keys()
    assert all(ns >= 0 for ns in times.values())
    # Stages whose trigger is absent do not run: no PEM header, no "Bearer ".
    assert "private_keys" not in times and "BEARER_TOKEN" not in times


def test_times_add_up_over_calls() -> None:
    times: dict[str, int] = {}
    detect_timed(MIXED, times)
    once = dict(times)
    detect_timed(MIXED, times)
    assert all(times[name] >= once[name] for name in once)
    assert sum(times.values()) > sum(once.values())


def test_a_text_without_digits_runs_no_number_stage() -> None:
    times: dict[str, int] = {}
    detect_timed("请帮我写一首关于春天的诗", times)
    assert "numbers" not in times and "IPV4" not in times and "emails" not in times
