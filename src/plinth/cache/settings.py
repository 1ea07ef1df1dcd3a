"""Settings of the response cache (``[response_cache]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ResponseCacheSettings(BaseModel):
    """Who opts in, how long answers live and how much is kept."""

    model_config = ConfigDict(extra="forbid")

    all_keys: bool = Field(False, description="Cache for every key (else only those opted in).")
    keys: list[str] = Field(default_factory=list, description="Key ids whose requests use it.")
    tenants: list[str] = Field(default_factory=list, description="Tenant ids that use it.")
    per_request: bool = Field(
        True, description="A request may opt in with the header 'x-plinth-cache: on'."
    )
    deterministic_only: bool = Field(
        True, description="Only requests with temperature 0 or a seed are cached."
    )
    shared_across_tenants: bool = Field(
        False, description="One entry serves every tenant (else each tenant has its own)."
    )
    ttl_s: float = Field(300.0, gt=0, description="How long an answer is served.")
    max_entries: int = Field(10_000, ge=1, description="In-process: answers kept at most.")
    max_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="In-process: bytes kept at most.")
    max_entry_bytes: int = Field(
        1024 * 1024, ge=256, description="Larger answers are not cached (either backend)."
    )
