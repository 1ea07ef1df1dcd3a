"""Small helpers shared by the ledger's two front ends, the admin API and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from plinth.errors import InvalidRequest


def parse_since(value: str | None) -> datetime | None:
    """An ISO-8601 date or time; naive values are UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(
            f"since must be an ISO-8601 date or time, not '{value}'", param="since"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()
