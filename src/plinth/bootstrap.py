"""Start-up steps that touch the outside world: the first admin key, the models."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import sys
from pathlib import Path

from plinth.billing.guard import Billing
from plinth.billing.meter import LocalMeter, Meter, RedisMeter
from plinth.billing.prices import PriceBook
from plinth.catalog.catalog import model_specs
from plinth.catalog.model_tokenizer import load_tokenizer
from plinth.engine_kinds import CATALOG_ENGINE
from plinth.engines.base import Engine
from plinth.engines.registry import engine_factory
from plinth.errors import BundledModelMissing
from plinth.extras import require_redis
from plinth.paths import private_dir
from plinth.privacy.guard import PrivacyGuard
from plinth.settings import Settings
from plinth.store.door import Database
from plinth.store.keys import KeyStore
from plinth.store.models import ModelStore

log = logging.getLogger(__name__)


def bootstrap_admin_key(keys: KeyStore, settings: Settings) -> None:
    """Honour ``PLINTH_ADMIN_KEY``; else create and print one admin key, once ever."""
    if settings.admin_key is not None:
        keys.ensure(settings.admin_key.get_secret_value(), "admin (PLINTH_ADMIN_KEY)", admin=True)
        return
    if keys.count_active_admins() > 0:
        return
    _, plaintext = keys.create("admin (first start)", admin=True)
    print(
        "\n  Created the first admin API key. It is shown only this once; store it now:\n\n"
        f"    {plaintext}\n\n"
        "  Use it as OPENAI_API_KEY, or create more with `plinth keys create`.\n",
        file=sys.stdout,
        flush=True,
    )


def build_engines(settings: Settings, models: ModelStore) -> list[Engine]:
    """One llama.cpp engine per model in the catalog (converting bundled ones if needed)."""
    from plinth.engines.llamacpp import LlamaCppOptions

    llama = settings.llamacpp
    verbosity = 3 if settings.log_level == "debug" else 0
    chat_options = LlamaCppOptions(
        llama.parallel_slots,
        llama.context_per_slot,
        llama.threads,
        verbosity,
        kv_unified=llama.kv_unified,
        kv_cache_type=llama.kv_cache_type,
        default_max_tokens=llama.default_max_tokens,
        prompt_cache_mib=llama.prompt_cache_mib,
        load_on_first_use=llama.load == "on_first_use",
        compute_nice=llama.compute_nice,
    )
    # Embedders get their own thread count (default 1): see embedding_threads.
    # Embedders sleep between batches (poll 0) instead of spinning: on shared
    # cores spinning threads starve each other (retrieval_embedding_throughput.md).
    embed_options = LlamaCppOptions(
        llama.embedding_slots,
        512,
        llama.embedding_threads,
        verbosity,
        poll=0,
        load_on_first_use=llama.load == "on_first_use",
    )
    factory = engine_factory(CATALOG_ENGINE)
    specs = model_specs(
        settings.data_dir,
        models,
        include_bundled=settings.load_bundled_models,
        progress=sys.stderr.isatty(),
        wanted=frozenset({settings.knowledge.embedding_model}),
        no_gguf=numpy_served(settings),
    )
    engines = []
    for spec in specs:
        options = chat_options if spec.kind == "chat" else embed_options
        if spec.chat_template:
            options = dataclasses.replace(options, chat_template=spec.chat_template)
        if spec.kind == "embedding" and numpy_backend(settings, spec.tokenizer_dir):
            from plinth.engines.numpy_bert_engine import numpy_embedder
            from plinth.engines.spare_core_embedder import SPARE_NICE

            assert spec.tokenizer_dir is not None
            engines.append(
                numpy_embedder(
                    spec.id,
                    spec.tokenizer_dir,
                    spares=spare_copies(settings),
                    threads=llama.embedding_threads,
                    spare_nice=SPARE_NICE,
                    load_on_first_use=llama.load == "on_first_use",
                )
            )
            continue
        tokenizer = load_tokenizer(spec.tokenizer_dir) if spec.tokenizer_dir else None
        engine = factory(spec.id, spec.kind, spec.path, options, tokenizer=tokenizer)
        if spec.kind == "embedding":
            spares = spare_copies(settings)
            if spares:
                from plinth.engines.spare_core_embedder import SPARE_NICE, SpareCoreEmbedder

                nice = dataclasses.replace(options, nice=SPARE_NICE)
                copies = [
                    factory(spec.id, spec.kind, spec.path, nice, tokenizer=tokenizer)
                    for _ in range(spares)
                ]
                engine = SpareCoreEmbedder(engine, copies)
        engines.append(engine)
    return engines


def numpy_backend(settings: Settings, model_dir: Path | None) -> bool:
    """Whether an embedder runs on numpy: asked for, and a BERT safetensors folder."""
    if settings.llamacpp.embedding_backend != "numpy" or model_dir is None:
        return False
    return (model_dir / "model.safetensors").is_file() and (model_dir / "config.json").is_file()


def numpy_served(settings: Settings) -> frozenset[str]:
    """The bundled embedders numpy serves (``numpy_backend``): no GGUF is made for them."""
    from plinth.catalog.bundled import BUNDLED_MODELS

    served = set()
    for model in BUNDLED_MODELS:
        if model.kind == "embedding" and model.tokenizer_dir is not None:
            try:
                if numpy_backend(settings, model.tokenizer_dir()):
                    served.add(model.id)
            except BundledModelMissing:
                continue  # model_specs says so
    return frozenset(served)


def spare_copies(settings: Settings) -> int:
    """How many nice-19 one-thread copies each embedder gets (spare_core_embedder.py)."""
    llama = settings.llamacpp
    if llama.embedding_threads != 1:
        return 0  # an embedder on several threads already takes the cores
    if llama.embedding_spare_copies >= 0:
        return llama.embedding_spare_copies
    return max((os.cpu_count() or 1) - 1, 0)


def audit_key(settings: Settings) -> bytes:
    """The privacy audit's hash key: configured, or made once in the data dir.

    Replicas sharing a database must share this key (set
    ``PLINTH_PRIVACY__AUDIT_KEY``), or equal values hash differently per replica.
    """
    if settings.privacy.audit_key is not None:
        return settings.privacy.audit_key.get_secret_value().encode()
    path = settings.data_dir / "audit.key"
    if not path.exists():
        private_dir(settings.data_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def privacy_guard(settings: Settings) -> PrivacyGuard:
    return PrivacyGuard(
        settings.privacy.policies,
        settings.privacy.default_policy,
        audit_key(settings),
        strict_phones=settings.privacy.strict_phones,
    )


def build_billing(settings: Settings, db: Database) -> Billing:
    """Reservations in Redis when ``redis_url`` is set (shared by replicas), else in memory."""
    ttl = settings.billing.reservation_ttl_s
    if settings.redis_url:
        require_redis()  # the response cache uses it too; this runs first
    meter: Meter = RedisMeter(settings.redis_url, ttl) if settings.redis_url else LocalMeter(ttl)
    prices = PriceBook(db.engine)
    return Billing(db, meter, prices, assumed_max_tokens=settings.billing.assumed_max_tokens)
