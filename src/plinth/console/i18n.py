"""Translations (English, Simplified Chinese) and locale-aware formatting.

Every string a page shows goes through :func:`Translator.t`, keyed by a short
id; the catalog lives in :mod:`plinth.console.catalog`. Numbers, money and
times are formatted here for the page's language and time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plinth.console.catalog import MESSAGES

LANGUAGES = ("en", "zh-CN")
LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an ``Accept-Language`` header (q-values honoured)."""
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        tag = tag.strip().lower()
        lang = "zh-CN" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if lang is not None and q > best_q:
            best, best_q = lang, q
    return best


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Translator:
    lang: str
    tz: ZoneInfo
    currency: str = ""

    def t(self, key: str, **values: object) -> str:
        en, zh = MESSAGES.get(key, (key, key))
        text = zh if self.lang == "zh-CN" else en
        return text.format(**values) if values else text

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        return f"{value:,.{digits}f}"

    def money(self, micros: int | None) -> str:
        if micros is None:
            return "–"
        amount = (Decimal(micros) / Decimal(1_000_000)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )
        return f"{amount:,.4f}"

    def percent(self, value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.2f}%"

    def ms(self, value: float | None) -> str:
        return "–" if value is None else f"{value:,.0f} ms"

    def when(self, value: datetime | str | int | None, *, seconds: bool = False) -> str:
        if value is None or value == "":
            return "–"
        if isinstance(value, int):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value)
        else:
            moment = value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(self.tz)
        clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
        if self.lang == "zh-CN":
            return f"{local.year}年{local.month}月{local.day}日 {clock}"
        return f"{local.day} {local.strftime('%b')} {local.year} {clock}"

    def day(self, moment: datetime) -> str:
        local = moment.astimezone(self.tz)
        if self.lang == "zh-CN":
            return f"{local.month}月{local.day}日"
        return f"{local.day} {local.strftime('%b')}"

    def hour(self, moment: datetime) -> str:
        local = moment.astimezone(self.tz)
        return local.strftime("%H:00") if self.lang != "zh-CN" else f"{local.hour}时"
