"""``[server]`` settings: how many connections, for how long, and how many requests each."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServerLimits(BaseModel):
    """Bounds on what one network peer can hold of the server (see docs/security.md)."""

    model_config = ConfigDict(extra="forbid")

    max_connections: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Open connections in all; at the cap the longest-idle one (no request "
        "under way) is closed for a newcomer, or the newcomer gets a 503. Lowered at start-up "
        "to fit the process's open-file limit.",
    )
    max_connections_per_client: int = Field(
        256,
        ge=0,
        le=1_000_000,
        description="Open connections from one client address; beyond it, 503. 0: no per-address "
        "cap (behind a reverse proxy every client has the proxy's address).",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="A request's line and headers must arrive within this."
    )
    body_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="Longest pause between two pieces of a request body."
    )
    # A pause bound alone lets a client hold a connection, and what the app has
    # buffered of its body, for ever by sending a byte every few seconds. A floor
    # on the body's average rate bounds that by what the client actually sends,
    # while a big upload over a slow link (4 KiB/s is slower than a GPRS uplink)
    # still goes through: its deadline moves with every byte it sends.
    body_min_rate_bytes_s: int = Field(
        4096,
        ge=0,
        le=1 << 30,
        description="After body_rate_grace_s, a body must have arrived at this average rate "
        "(bytes/s, counted from the end of its headers) or the request gets a 408. 0: off.",
    )
    body_rate_grace_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Time a body's rate is not checked for (the client's own start-up, a "
        "100-continue round trip); the rate's deadline starts from it.",
    )
    write_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Longest a response may wait for the client to read (the connection's send "
        "buffer full the whole time); then the connection is closed (aborted).",
    )
    max_header_bytes: int = Field(
        64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Request line and headers, in all."
    )
    keep_alive_timeout_s: float = Field(
        5.0, gt=0, le=3600, description="An idle keep-alive connection is closed after this."
    )
    max_requests_per_connection: int = Field(
        1000, ge=1, le=10_000_000, description="Then the server answers with Connection: close."
    )
