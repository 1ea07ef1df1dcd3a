"""Settings of the Batch API's background runner (``[batches]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BatchSettings(BaseModel):
    """How batch lines share the server with interactive requests."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(2, ge=1, le=256, description="Batch lines running at once.")
    yield_at: int = Field(
        1,
        ge=1,
        description="Dispatch no new line while this many interactive requests are in flight.",
    )
    idle_s: float = Field(
        0.0,
        ge=0,
        description="Dispatch a line only once interactive traffic has been idle this long "
        "(0: 50 ms after fewer than yield_at are in flight).",
    )
    preempt: bool = Field(
        True,
        description="Stop a line running on an in-process model when interactive traffic "
        "reaches yield_at; it runs again from its start later (no ledger row, no output "
        "for the stopped run).",
    )
    poll_s: float = Field(1.0, gt=0, description="How often batches are looked at when idle.")
    drain_s: float = Field(
        30.0, ge=0, description="At shutdown, how long running lines may take to finish."
    )
    lease_s: float = Field(
        60.0,
        ge=1,
        description="A line a server runs is its own this long (renewed while it runs); "
        "lines of a server that died are run again after it.",
    )
    max_lines: int = Field(50_000, ge=1, description="Lines one input file may hold.")
