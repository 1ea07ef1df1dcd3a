"""One deployment: a place that can serve a public model name.

A public model name (what clients put in ``model``) maps to one or more
deployments: the bundled llama.cpp model in this process, a vLLM box down the
hall, DeepSeek's API. Deployments come from ``[[deployments]]`` in
``plinth.toml``, from the admin API (stored in the database), and implicitly
from every local catalog model (``<id>`` served by llama.cpp).

API keys are never stored: a deployment names the environment variable that
holds its key, read when the engine is built.

This module sits below ``engines/`` (which builds engines from deployments)
and ``routing/`` (which chooses among them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plinth.engine_kinds import installed_kinds, is_local_kind

Locality = Literal["local", "cloud"]
AuthStyle = Literal["bearer", "api-key", "x-api-key", "none"]
DeploymentKind = Literal["chat", "embedding"]
# Endpoints a deployment may serve besides chat/completions/embeddings (by its kind):
# the pass-through routes, each forwarded to the same path under its base_url.
PassthroughEndpoint = Literal[
    "rerank",
    "audio.transcriptions",
    "audio.translations",
    "audio.speech",
    "images.generations",
    "moderations",
]

# Which environment variables a deployment may name as its key (the setting
# routing.api_key_env_allow): the variable's value is sent to the deployment's
# base URL, so naming any variable of the server would let whoever can add a
# deployment read it out. Plinth's own settings (PLINTH_*) are never allowed.
DEFAULT_API_KEY_ENV_ALLOW = ["*_API_KEY", "AWS_BEARER_TOKEN_BEDROCK", "SPARK_API_PASSWORD"]
_OWN_PREFIX = "PLINTH_"


def api_key_env_refusal(name: str | None, allowed: Sequence[str]) -> str | None:
    """Why a deployment may not read its key from ``name``; None if it may."""
    if name is None:
        return None
    if name.upper().startswith(_OWN_PREFIX):
        return f"api_key_env '{name}' names a Plinth setting (PLINTH_*); those are never sent"
    if not any(fnmatchcase(name, pattern) for pattern in allowed):
        return (
            f"api_key_env '{name}' is not allowed; routing.api_key_env_allow permits "
            f"{', '.join(allowed) or 'none'}"
        )
    return None


class Deployment(BaseModel):
    """How to reach one deployment; validated the same from TOML, the API and the CLI."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field("", max_length=200, description="Unique; defaults to '<model>@<host>'.")
    model: str = Field(min_length=1, max_length=200, description="The public model name.")
    engine: str = Field(
        "openai", description="An engine kind installed in the 'plinth.engines' entry points."
    )
    kind: DeploymentKind = "chat"
    provider: str | None = Field(None, description="Catalog preset it was made from, if any.")
    base_url: str | None = Field(None, description="Upstream base URL, up to and with '/v1'.")
    api_key_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Env var holding the API key."
    )
    auth: AuthStyle = "bearer"
    upstream_model: str | None = Field(
        None, description="The model name the upstream knows; defaults to the public name."
    )
    locality: Locality = "cloud"
    region: str | None = None
    weight: float = Field(1.0, gt=0)
    priority: int = Field(0, description="Lower is tried first by the 'priority' strategy.")
    connect_timeout_s: float = Field(5.0, gt=0)
    first_token_timeout_s: float = Field(60.0, gt=0, description="Until headers / first chunk.")
    idle_timeout_s: float = Field(60.0, gt=0, description="Longest gap between stream chunks.")
    total_timeout_s: float = Field(600.0, gt=0)
    input_price_per_mtok: Decimal | None = Field(None, ge=0)
    output_price_per_mtok: Decimal | None = Field(None, ge=0)
    cached_input_price_per_mtok: Decimal | None = Field(None, ge=0)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra static headers.")
    endpoints: tuple[PassthroughEndpoint, ...] = Field(
        (), description="Pass-through endpoints it also serves (rerank, audio.speech, …)."
    )
    rerank_format: Literal["cohere", "tei"] = Field(
        "cohere", description="'tei': POST {base_url}/rerank in text-embeddings-inference's shape."
    )

    @field_validator("engine")
    @classmethod
    def _installed_engine(cls, value: str) -> str:
        known = installed_kinds()
        if value not in known:
            raise ValueError(f"unknown engine '{value}' (installed: {', '.join(known)})")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _complete(self) -> Deployment:
        if not self.is_local and not self.base_url:
            raise ValueError(f"a deployment with engine '{self.engine}' needs a base_url")
        if not self.id:
            where = self.base_url.split("://", 1)[1].split("/", 1)[0] if self.base_url else "local"
            object.__setattr__(self, "id", f"{self.model}@{where}")
        return self

    @property
    def is_local(self) -> bool:
        """Served in this process by a local catalog model, not by a remote upstream.

        Not the same as ``locality``, which says where data goes for privacy: a
        vLLM box down the hall is a remote engine with ``locality = "local"``.
        """
        return is_local_kind(self.engine)

    @property
    def target_model(self) -> str:
        return self.upstream_model or self.model

    def api_key(self) -> str | None:
        """The key, read from the environment now; never persisted or logged."""
        if not self.api_key_env or self.api_key_env.upper().startswith(_OWN_PREFIX):
            return None
        return os.environ.get(self.api_key_env)
