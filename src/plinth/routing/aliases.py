"""Model aliases: names clients hard-code (``gpt-4o-mini``) mapped to a served model.

An alias is resolved once, before planning: the request is routed, priced
and planned as its target, while the client keeps seeing the name it sent
(in answers and in ``/v1/models``). A tenant's alias overrides a global one
of the same name; an alias also shadows a served model of the same name,
which is the point (a hard-coded name goes where the operator says).
Aliases do not chain: the target is a served model's public name.

Configured in ``plinth.toml``::

    [routing.aliases]
    "gpt-4o-mini" = "qwen2.5-7b-instruct"

    [routing.tenant_aliases.acme]
    "gpt-4o-mini" = "deepseek-chat"
"""

from __future__ import annotations

from collections.abc import Mapping

# Who a client expects to own a well-known name, for ``owned_by`` in /v1/models.
_OWNERS = (
    (
        (
            "gpt-",
            "o1",
            "o3",
            "o4",
            "chatgpt-",
            "text-embedding-",
            "whisper-",
            "tts-",
            "dall-e-",
            "omni-moderation",
            "text-moderation",
            "davinci",
            "babbage",
        ),
        "openai",
    ),
    (("claude-",), "anthropic"),
    (("gemini-", "text-embedding-004"), "google"),
    (("deepseek-",), "deepseek"),
    (("qwen", "text-embedding-v"), "qwen"),
    (("rerank-", "embed-english", "embed-multilingual", "command-"), "cohere"),
)


def owner_of(alias: str) -> str:
    """The ``owned_by`` a client expects for ``alias`` ("plinth" when unknown)."""
    lowered = alias.lower()
    for prefixes, owner in _OWNERS:
        if lowered.startswith(prefixes):
            return owner
    return "plinth"


class Aliases:
    """Global and per-tenant alias tables; read-only once built."""

    def __init__(
        self,
        global_aliases: Mapping[str, str],
        tenant_aliases: Mapping[str, Mapping[str, str]],
    ):
        self._global = dict(global_aliases)
        self._tenants = {tenant: dict(table) for tenant, table in tenant_aliases.items()}

    def resolve(self, model: str, tenant_id: str | None) -> str:
        """The served model ``model`` stands for, for this tenant (itself if no alias)."""
        if tenant_id is not None:
            target = self._tenants.get(tenant_id, {}).get(model)
            if target is not None:
                return target
        return self._global.get(model, model)

    def visible(self, tenant_id: str | None) -> dict[str, str]:
        """Every alias this tenant may use, tenant ones overriding global ones."""
        table = dict(self._global)
        if tenant_id is not None:
            table.update(self._tenants.get(tenant_id, {}))
        return table

    def known(self, model: str) -> bool:
        """Whether any table defines ``model`` (for metric labels: bounded names only)."""
        return model in self._global or any(model in t for t in self._tenants.values())
