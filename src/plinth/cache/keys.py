"""Which requests the cache may answer, and the key of one.

The key is a hash of the normalised request as the gateway sees it after the
privacy screen: the endpoint, the model, every parameter that changes the
output (not ``stream``, ``stream_options`` or ``user``), the privacy
policy's name and decision, and the tenant (unless the cache is shared
across tenants). Two keys whose policies decide differently never share an
entry, and a key whose policy blocks the request is refused before any
lookup.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from plinth.cache.settings import ResponseCacheSettings
from plinth.metering.accounting import Accounting

# Parameters that do not change what the model answers.
IGNORED = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})


def opted_in(settings: ResponseCacheSettings, acct: Accounting, header: str | None) -> bool:
    """The request's own header decides first ('off' always wins), then key and tenant."""
    choice = (header or "").strip().lower()
    if choice in ("off", "no", "0", "false"):
        return False
    if choice in ("on", "yes", "1", "true") and settings.per_request:
        return True
    principal = acct.principal
    if settings.all_keys:
        return True
    if principal is None:
        return False
    return principal.key_id in settings.keys or (
        principal.tenant_id is not None and principal.tenant_id in settings.tenants
    )


def deterministic(body: dict[str, Any]) -> bool:
    """Temperature 0 or a seed: the same request gives the same answer."""
    return body.get("temperature") == 0 or body.get("seed") is not None


def cache_key(settings: ResponseCacheSettings, acct: Accounting, body: dict[str, Any]) -> str:
    normalised = {k: v for k, v in body.items() if k not in IGNORED}
    privacy = acct.privacy
    scope = {
        "endpoint": acct.endpoint,
        "tenant": None if settings.shared_across_tenants else _tenant(acct),
        "policy": (privacy.policy, privacy.action) if privacy is not None else None,
        "request": normalised,
    }
    text = json.dumps(scope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _tenant(acct: Accounting) -> str:
    principal = acct.principal
    if principal is None:
        return "-"
    # A key outside any tenant is its own tenant.
    return principal.tenant_id or f"key:{principal.key_id}"
