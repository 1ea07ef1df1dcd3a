"""Money as integer micro-units (10⁻⁶ of the billing currency): never floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MICROS = 1_000_000
# The largest amount taken in (10^18 micro-units still fits a signed 64-bit column).
MAX_AMOUNT = Decimal(10**12)


def to_micros(value: Decimal | str | int) -> int:
    """An amount in currency units as micro-units, rounded half up at the sixth place."""
    return int((Decimal(value) * MICROS).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_micros(micros: int) -> Decimal:
    return Decimal(micros) / MICROS


def per_mtok(tokens: int, micros_per_mtok: int) -> int:
    """Exact micro-units for ``tokens`` at a price per million, rounded up (never under-billed)."""
    return -(-tokens * micros_per_mtok // 1_000_000)


def per_second(milliseconds: int, micros_per_second: int) -> int:
    """Exact micro-units for whole ``milliseconds`` at a price per second, rounded up."""
    return -(-milliseconds * micros_per_second // 1_000)


def per_gb_month(byte_seconds: int, micros_per_gb_month: int, gb_month_byte_seconds: int) -> int:
    """Exact micro-units for stored byte-seconds at a price per GB-month, rounded up once."""
    return -(-byte_seconds * micros_per_gb_month // gb_month_byte_seconds)
