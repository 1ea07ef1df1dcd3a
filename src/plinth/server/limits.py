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
    max_header_bytes: int = Field(
        64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Request line and headers, in all."
    )
    keep_alive_timeout_s: float = Field(
        5.0, gt=0, le=3600, description="An idle keep-alive connection is closed after this."
    )
    max_requests_per_connection: int = Field(
        1000, ge=1, le=10_000_000, description="Then the server answers with Connection: close."
    )
