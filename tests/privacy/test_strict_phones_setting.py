"""``[privacy] strict_phones``: from the settings to the guard that screens requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from plinth.bootstrap import privacy_guard
from plinth.settings import Settings

# 144 is a data-only range: a real number, which libphonenumber calls unallocated.
BODY = {"messages": [{"role": "user", "content": "回拨 14412345678，或 13812345678"}]}


def test_strict_phones_is_off_by_default_and_every_mobile_range_counts(tmp_path: Path) -> None:
    guard = privacy_guard(Settings(data_dir=tmp_path))
    assert guard.inspect(BODY, "block").counts == {"CN_MOBILE": 2}


def test_strict_phones_from_the_environment_reaches_the_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLINTH_PRIVACY__STRICT_PHONES", "true")
    settings = Settings(data_dir=tmp_path)
    assert settings.privacy.strict_phones is True
    inspection = privacy_guard(settings).inspect(BODY, "block")
    assert inspection.counts == {"CN_MOBILE": 1}
    assert inspection.action == "block"
