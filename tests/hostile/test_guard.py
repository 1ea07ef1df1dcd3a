"""ConnectionGuard's accounting: caps, eviction of the longest-idle, release."""

from __future__ import annotations

from dataclasses import dataclass, field

from plinth.server.guard import ConnectionGuard, client_key
from plinth.server.limits import ServerLimits


@dataclass(eq=False)
class Conn:
    client_host: str
    evicted: list[bool] = field(default_factory=list)

    def evict(self) -> None:
        self.evicted.append(True)


def test_at_the_global_cap_the_longest_idle_connection_makes_room() -> None:
    guard = ConnectionGuard(ServerLimits(max_connections=3, max_connections_per_client=0))
    first, second, third = Conn("a"), Conn("b"), Conn("c")
    for conn in (first, second, third):
        assert guard.admit(conn) is None
    guard.busy(first)  # serving a request: never evicted
    guard.idle_again(second)  # back of the line
    newcomer = Conn("d")
    assert guard.admit(newcomer) is None
    assert (first.evicted, second.evicted, third.evicted) == ([], [], [True])
    assert guard.open == {first, second, newcomer}


def test_when_every_connection_is_busy_a_newcomer_is_refused() -> None:
    guard = ConnectionGuard(ServerLimits(max_connections=2, max_connections_per_client=0))
    conns = [Conn("a"), Conn("b")]
    for conn in conns:
        assert guard.admit(conn) is None
        guard.busy(conn)
    assert guard.admit(Conn("c")) == "The server is at its connection limit; retry shortly"
    guard.release(conns[0])
    assert guard.admit(Conn("c")) is None


def test_the_per_address_cap_is_strict_and_released_on_close() -> None:
    guard = ConnectionGuard(ServerLimits(max_connections=100, max_connections_per_client=2))
    a1, a2 = Conn("a"), Conn("a")
    assert guard.admit(a1) is None and guard.admit(a2) is None
    assert guard.admit(Conn("a")) is not None
    assert guard.admit(Conn("b")) is None
    guard.release(a1)
    guard.release(a1)  # twice (evicted, then lost): counted once
    assert guard.per_client["a"] == 1
    assert guard.admit(Conn("a")) is None


def test_ipv6_clients_are_capped_per_64_network() -> None:
    """One IPv6 host commonly has a /64: counted per address, its 2^64 addresses would
    each have had their own cap."""
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7" == client_key("192.0.2.7")
    assert client_key("fe80::1%eth0") == client_key("fe80::2")
    guard = ConnectionGuard(ServerLimits(max_connections=100, max_connections_per_client=2))
    hosts = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"]
    answers = [guard.admit(Conn(client_key(host))) for host in hosts]
    assert answers[:2] == [None, None]
    assert answers[2] == "Too many connections from your address; close some and retry"
    assert guard.admit(Conn(client_key("2001:db8:1:3::1"))) is None  # another network
