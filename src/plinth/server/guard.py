"""Accounting of open connections: the global cap, the per-address cap, and eviction.

A connection is *idle* while it has no request under way: just opened,
reading a request's headers, or waiting between keep-alive requests. At the
global cap a newcomer does not simply get refused, or a few thousand stalled
sockets would lock everyone out: the connection idle the longest is closed
for it. Only when every open connection is serving a request does the
newcomer get a 503. Per address (per /64 network for IPv6: :func:`client_key`),
the cap is strict: beyond it, 503.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import Protocol

from plinth.server.limits import ServerLimits


def client_key(host: str) -> str:
    """What the per-address cap counts by: an IPv4 address; for IPv6 the /64 network
    (one host commonly gets a whole /64, so its 2^64 addresses would each have had
    their own cap); an IPv4-mapped IPv6 address as its IPv4 address."""
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])  # no zone (fe80::1%eth0)
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


class Guarded(Protocol):
    client_host: str

    def evict(self) -> None: ...


class ConnectionGuard:
    def __init__(self, limits: ServerLimits):
        self.limits = limits
        self.open: set[Guarded] = set()
        self.per_client: Counter[str] = Counter()
        # Insertion-ordered: the first key has been idle the longest.
        self.idle: dict[Guarded, None] = {}
        self.evicted = 0
        self.refused = 0

    def admit(self, conn: Guarded) -> str | None:
        """Register ``conn``, or return why it is refused (it is then not registered)."""
        cap = self.limits.max_connections_per_client
        if cap and self.per_client[conn.client_host] >= cap:
            self.refused += 1
            return "Too many connections from your address; close some and retry"
        if len(self.open) >= self.limits.max_connections and not self._evict_one():
            self.refused += 1
            return "The server is at its connection limit; retry shortly"
        self.open.add(conn)
        self.per_client[conn.client_host] += 1
        self.idle[conn] = None
        return None

    def _evict_one(self) -> bool:
        oldest = next(iter(self.idle), None)
        if oldest is None:
            return False
        self.release(oldest)
        self.evicted += 1
        oldest.evict()
        return True

    def busy(self, conn: Guarded) -> None:
        self.idle.pop(conn, None)

    def idle_again(self, conn: Guarded) -> None:
        if conn in self.open:
            self.idle.pop(conn, None)
            self.idle[conn] = None  # to the back of the line

    def release(self, conn: Guarded) -> None:
        if conn not in self.open:
            return
        self.open.discard(conn)
        self.idle.pop(conn, None)
        self.per_client[conn.client_host] -= 1
        if self.per_client[conn.client_host] <= 0:
            del self.per_client[conn.client_host]
