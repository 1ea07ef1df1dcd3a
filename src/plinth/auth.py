"""Bearer-key authentication for every ``/v1`` and ``/admin`` route."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from starlette.requests import Request

from plinth.errors import AuthenticationFailed, PermissionDenied
from plinth.store.door import Database
from plinth.store.keys import KeyStore, display_form

# A revoked key stops working within this many seconds in other processes
# (the CLI revokes in the database); the admin API's revoke is immediate.
CACHE_TTL_S = 5.0


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    is_admin: bool
    privacy_policy: str | None = None  # the key's own, else its tenant's
    tenant_id: str | None = None


class Authenticator:
    def __init__(self, keys: KeyStore, db: Database):
        self._keys = keys
        self._db = db
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    async def authenticate(self, request: Request, *, admin: bool = False) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>'",
                code="missing_api_key",
            )
        principal = await self._lookup(token)
        if principal is None:
            raise AuthenticationFailed(f"Incorrect API key provided: {display_form(token)}")
        if admin and not principal.is_admin:
            raise PermissionDenied("This route needs an admin key")
        return principal

    async def _lookup(self, token: str) -> Principal | None:
        # The cache's own key: a digest, so no plaintext key stays in memory. It is
        # not the stored hash (store/keys.hash_key), which only a miss needs.
        digest = hashlib.blake2b(token.encode(), digest_size=16).hexdigest()
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        key = await self._db.run(self._keys.find_active, token)
        principal = None
        if key is not None:
            policy = key.privacy_policy or key.tenant_privacy_policy
            principal = Principal(key.id, key.name, key.is_admin, policy, key.tenant_id)
        if len(self._cache) > 10_000:
            self._cache.clear()  # bounded: a flood of bad keys must not grow memory
        self._cache[digest] = (principal, now + CACHE_TTL_S)
        return principal

    def clear(self) -> None:
        """Forget every cached key (after a change that affects many, e.g. a tenant's)."""
        self._cache = {}

    def forget(self, key_id: str) -> None:
        """Drop a revoked key from the cache at once."""
        self._cache = {
            digest: entry
            for digest, entry in self._cache.items()
            if entry[0] is None or entry[0].key_id != key_id
        }
