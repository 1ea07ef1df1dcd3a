"""ConnectionGuard's accounting: caps, eviction of the longest-idle, release."""

from __future__ import annotations

from dataclasses import dataclass, field

from plinth.server.guard import ConnectionGuard
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
