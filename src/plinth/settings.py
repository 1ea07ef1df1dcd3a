"""Typed settings, read once at start-up and passed down.

Sources, highest priority first: explicit constructor arguments (the CLI's
flags), ``PLINTH_*`` environment variables, ``plinth.toml`` (in the working
directory, or the file named by ``PLINTH_CONFIG``), then the defaults below.
Nothing here is read at import time: :func:`load_settings` does the reading.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from plinth.batches.settings import BatchSettings
from plinth.cache.settings import ResponseCacheSettings
from plinth.deployment import DEFAULT_API_KEY_ENV_ALLOW, Deployment, api_key_env_refusal
from plinth.privacy.policy import PrivacyPolicy
from plinth.server.limits import ServerLimits

LogLevel = Literal["debug", "info", "warning", "error"]


def default_data_dir() -> Path:
    """``$PLINTH_DATA_DIR`` is handled by the settings source; this is the fallback."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "plinth"


class LlamaCppSettings(BaseModel):
    """How bundled and added GGUF models run in-process."""

    model_config = ConfigDict(extra="forbid")

    parallel_slots: int = Field(8, ge=1, le=256, description="Concurrent sequences per chat model.")
    context_per_slot: int = Field(2048, ge=256, description="Context tokens each slot can hold.")
    # q8_0 by default: the KV cache of 8 slots x 2048 tokens was ~370 of the
    # ~680 MB an idle server held in f16 (benchmarks/results/light_install.md).
    kv_cache_type: Literal["f16", "q8_0"] = Field(
        "q8_0", description="Element type of chat models' KV cache; q8_0 takes about half."
    )
    kv_unified: bool = Field(
        False,
        description="One KV cache of parallel_slots x context_per_slot tokens shared by all "
        "slots (one request may use all of it) instead of a fixed share per slot.",
    )
    default_max_tokens: int = Field(
        512,
        ge=0,
        description="Output limit of a local chat/completion request that sets none; 0 = none.",
    )
    threads: int = Field(0, ge=0, description="CPU threads; 0 = all cores.")
    # llama.cpp's compute threads this many nice steps below the event loop and
    # the token hand-off: on cores they fill, a token's hand-off and a new
    # request's path to llama.cpp then run when they wake instead of queueing
    # behind the compute (quiet A/B, 0 vs 2: TTFT p50 overhead +6.3/+0.7/-2.1 ms
    # vs -3.1/-14.4/-15.0 ms at c=1/4/8; benchmarks/results/local_inference_compute_nice.md).
    compute_nice: int = Field(
        2,
        ge=0,
        le=19,
        description="Nice steps below the server's own threads for chat models' llama.cpp "
        "compute threads, so the event loop wins the CPU; 0 = the same priority.",
    )
    # on_first_use (the default) keeps a server that is only asked for remote
    # models or the knowledge base at ~200 MB instead of ~510 until a local chat
    # model is used (benchmarks/results/light_install.md); the first chat waits
    # for the load. Start-up still loads each model once with a minimal context
    # and lets it go (lazy_load.check_loads), so a broken model stops start-up.
    load: Literal["on_start", "on_first_use"] = Field(
        "on_first_use",
        description="When local chat/embedding models load: at start-up, or at the first "
        "request that needs each (a failed load is then a 503 model_unavailable, retried "
        "by the next request).",
    )
    # llama.cpp keeps the KV state of prompts that leave a slot in host memory,
    # to resume them later, up to 8 GiB by default: RSS then grows with every
    # new prompt (about 1.2 MiB each for the bundled 135M model,
    # benchmarks/results/memory_soak.md) and looks like a leak.
    prompt_cache_mib: int = Field(
        256,
        ge=0,
        description="Host memory (MiB) per chat model for llama.cpp's cache of prompts' "
        "KV states; 0 = off.",
    )
    embedding_slots: int = Field(2, ge=1, le=64, description="Parallel slots per embedding model.")
    # One thread by default: an embedder computing on several threads keeps an
    # OpenMP team of its own alive, libgomp then counts more threads than cores
    # and cuts every spin-wait to ~100 iterations, so the chat model's threads
    # block in futex ~700 times per token instead of spinning (measured in
    # benchmarks/local_inference_openmp.py: 6 voluntary switches per token
    # alone or with a 1-thread embedder, 708 with a 2-thread one).
    embedding_threads: int = Field(
        1, ge=0, description="CPU threads per embedding model; 0 = all cores."
    )
    # Copies of each embedding model beyond the first, one thread each, at nice
    # 19: they use cores nothing else wants (engines/spare_core_embedder.py).
    embedding_spare_copies: int = Field(
        -1,
        ge=-1,
        le=64,
        description="Extra one-thread copies of each embedding model at the lowest CPU "
        "priority, for cores that nothing else is using; -1 = one per core beyond the "
        "first, 0 = none.",
    )
    # numpy (the default): the bundled all-MiniLM-L6-v2 as a numpy fp32 forward
    # pass on its safetensors, in a child process (engines/numpy_bert.py,
    # numpy_bert_worker.py): OpenBLAS uses AVX-512 where the CPU has it, the
    # xllamacpp build AVX2 only, and fp32 is the model's own vectors, not Q8_0's
    # (benchmarks/results/ingest_throughput.md). Other embedders always run on llama.cpp.
    embedding_backend: Literal["llamacpp", "numpy"] = Field(
        "numpy",
        description="What runs the bundled all-minilm-l6-v2 embedder: numpy (fp32, in a "
        "child process started at first use, one BLAS thread per copy), or llama.cpp on "
        "its Q8_0 GGUF.",
    )


RoutingStrategy = Literal[
    "priority", "weighted", "least_outstanding", "lowest_latency", "lowest_cost"
]


class RoutingSettings(BaseModel):
    """How a request picks among a model's deployments, and when it tries again."""

    model_config = ConfigDict(extra="forbid")

    strategy: RoutingStrategy = "priority"
    strategies: dict[str, RoutingStrategy] = Field(
        default_factory=dict, description="Per public model name, overriding `strategy`."
    )
    max_attempts: int = Field(3, ge=1, le=10, description="Attempts per request, all included.")
    backoff_initial_s: float = Field(0.1, ge=0, description="Wait before retrying a deployment.")
    backoff_max_s: float = Field(
        2.0, ge=0, description="Longest wait; a longer Retry-After moves on instead."
    )
    breaker_failures: int = Field(5, ge=1, description="Consecutive failures that open it.")
    breaker_cooldown_s: float = Field(30.0, gt=0)
    health_interval_s: float = Field(30.0, ge=0, description="0 disables health checks.")
    refresh_interval_s: float = Field(
        5.0, gt=0, description="How often deployments added via API/CLI are re-read."
    )
    latency_ewma_alpha: float = Field(0.2, gt=0, le=1)
    usd_per_unit: dict[str, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal(1), "CNY": Decimal("0.14")},
        description="Exchange rates the lowest_cost strategy uses to compare prices.",
    )
    aliases: dict[str, str] = Field(
        default_factory=dict,
        description="Model aliases for every key: a name clients send → a served model name.",
    )
    tenant_aliases: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per tenant id, aliases overriding the global ones for that tenant's keys.",
    )
    api_key_env_allow: list[str] = Field(
        default_factory=lambda: list(DEFAULT_API_KEY_ENV_ALLOW),
        description="Environment variables a deployment may name as api_key_env (shell-style "
        "patterns, case-sensitive); PLINTH_* variables are refused whatever this says.",
    )


class PrivacySettings(BaseModel):
    """Personal-data handling; see ``plinth.privacy.policy`` for the actions."""

    model_config = ConfigDict(extra="forbid")

    default_policy: str = Field(
        "allow", description="Policy for keys that name none: a built-in or one of `policies`."
    )
    policies: dict[str, PrivacyPolicy] = Field(
        default_factory=dict, description="Named policies: default_action + per-entity rules."
    )
    audit_key: SecretStr | None = Field(
        None,
        description="Key of the audit trail's value hashes; default: <data_dir>/audit.key, "
        "made on first start. Replicas must share it.",
    )
    strict_phones: bool = Field(
        False,
        description="Count a mainland mobile number only in ranges libphonenumber knows as "
        "allocated; off: every 1[3-9] number counts (data-only and IoT ranges included).",
    )


class BillingSettings(BaseModel):
    """How requests are held against budgets, wallets and rate limits."""

    model_config = ConfigDict(extra="forbid")

    reservation_ttl_s: float = Field(
        900.0, gt=0, description="A reservation whose process died stops counting after this."
    )
    assumed_max_tokens: int = Field(
        4096, ge=1, description="Output tokens reserved for a request that sets no max_tokens."
    )


class KnowledgeSettings(BaseModel):
    """Where vector stores live and which local model embeds them."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["embedded", "milvus"] = Field(
        "embedded",
        description="embedded: Plinth's own database; milvus: a Milvus server or milvus-lite file.",
    )
    milvus_uri: str | None = Field(
        None, description="http://host:19530 or a milvus-lite file path (backend = milvus)."
    )
    milvus_token_env: str | None = Field(
        None, description="Environment variable holding the Milvus token, if it needs one."
    )
    embedding_model: str = Field(
        "all-minilm-l6-v2",
        description="Local embedding model for chunks and queries; without it search is lexical.",
    )

    @model_validator(mode="after")
    def _milvus_needs_uri(self) -> KnowledgeSettings:
        if self.backend == "milvus" and not self.milvus_uri:
            raise ValueError("knowledge.backend = 'milvus' needs knowledge.milvus_uri")
        return self


class UploadSettings(BaseModel):
    """How much work reading one uploaded file for a vector store may cost (zip/PDF bombs)."""

    model_config = ConfigDict(extra="forbid")

    max_archive_members: int = Field(2_000, ge=1, description="Members of a .docx (zip).")
    max_inflated_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Bytes inflated from one file in total."
    )
    max_compression_ratio: int = Field(
        200, ge=2, description="Inflated / compressed size of an archive member over 1 MiB."
    )
    max_nesting_depth: int = Field(100, ge=2, le=500, description="XML/HTML/JSON nesting.")
    max_pdf_pages: int = Field(2_000, ge=1, description="Pages of a PDF.")
    max_pdf_stream_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Bytes one PDF stream may inflate to."
    )
    max_text_chars: int = Field(
        8_000_000, ge=1000, description="Characters of text extracted from one file."
    )


class Settings(BaseSettings):
    """Everything Plinth can be configured with. See the README's reference."""

    model_config = SettingsConfigDict(
        env_prefix="PLINTH_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; defaults to SQLite at <data_dir>/plinth.db."
    )
    admin_key: SecretStr | None = Field(
        None, description="Bootstraps an admin key with this exact value."
    )
    log_level: LogLevel = "info"
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Larger bodies get 413.")
    server: ServerLimits = Field(
        default_factory=ServerLimits, description="Connection caps, read timeouts, keep-alive."
    )
    files_max_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, description="Largest upload to /v1/files."
    )
    audio_max_bytes: int = Field(
        25 * 1024 * 1024, ge=1024, description="Largest audio upload to /v1/audio/*."
    )
    load_bundled_models: bool = True
    llamacpp: LlamaCppSettings = Field(default_factory=LlamaCppSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    batches: BatchSettings = Field(default_factory=BatchSettings)
    response_cache: ResponseCacheSettings = Field(default_factory=ResponseCacheSettings)
    redis_url: str | None = Field(
        None, description="redis://… shares budgets and rate limits across replicas."
    )
    deployments: list[Deployment] = Field(
        default_factory=list, description="[[deployments]] tables: public names → upstreams."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("PLINTH_CONFIG", "plinth.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    @model_validator(mode="after")
    def _unique_deployment_ids(self) -> Settings:
        seen: set[str] = set()
        for deployment in self.deployments:
            if deployment.id in seen:
                raise ValueError(
                    f"two deployments have the id '{deployment.id}'; give one an explicit id"
                )
            seen.add(deployment.id)
        return self

    @model_validator(mode="after")
    def _allowed_key_envs(self) -> Settings:
        allowed = self.routing.api_key_env_allow
        for index, deployment in enumerate(self.deployments):
            refusal = api_key_env_refusal(deployment.api_key_env, allowed)
            if refusal:
                raise ValueError(f"deployments[{index}] ('{deployment.id}'): {refusal}")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'plinth.db'}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings once; ``None`` overrides (unset CLI flags) are ignored."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
