"""Settings of the Batch API's background runner (``[batches]``)."""

from __future__ import annotations

from typing import Literal

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
    lane: Literal["process", "in_process"] = Field(
        "process",
        description="Where lines for an in-process llama.cpp model run: 'process', a child "
        "process running llama.cpp's own server on the same weights at the lowest CPU "
        "priority, so the kernel gives interactive requests the CPU at any instant; "
        "'in_process', on the app's own engine, stopped by pre-emption (also the fallback "
        "where no child can run).",
    )
    lane_priority: Literal["idle", "nice"] = Field(
        "idle",
        description="The child's priority: 'idle' is Linux's SCHED_IDLE (CPU time nothing "
        "else wants), 'nice' is nice 19 (also where SCHED_IDLE is missing or refused).",
    )
    lane_idle_s: float = Field(
        60.0, ge=0, description="Stop a lane's child after this long with no line for it."
    )
    lane_start_s: float = Field(
        30.0, gt=0, description="How long a lane's child may take to load its model."
    )
    lane_threads: int = Field(
        0, ge=0, description="The child's llama.cpp threads (0: as the in-process engine)."
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
