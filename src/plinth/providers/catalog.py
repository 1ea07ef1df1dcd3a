"""The provider catalog shipped in the package, and deployments made from it."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plinth.deployment import AuthStyle, Deployment, Locality

Criterion = Literal["usability", "scalability", "security_compliance", "ecosystem"]
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion: Criterion
    text: str
    source: str


class ProviderModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Literal["chat", "embedding"] = "chat"
    context_window: int | None = None
    input: Decimal | None = Field(None, ge=0, description="Per 1M input tokens.")
    output: Decimal | None = Field(None, ge=0, description="Per 1M output tokens.")
    cached_input: Decimal | None = Field(None, ge=0, description="Per 1M cached input tokens.")
    # Where this model's prices came from, when they differ from the provider's.
    prices_read_on: str | None = Field(None, pattern=_ISO_DATE)
    prices_source: str | None = None
    prices_note: str | None = None

    @property
    def priced(self) -> bool:
        return any(p is not None for p in (self.input, self.output, self.cached_input))


class Provider(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = ""
    name: str
    engine: str
    base_url: str
    auth: AuthStyle = "bearer"
    api_key_env: str | None = None
    locality: Locality
    region: str
    data_residency: str
    openai_compatible: bool
    docs_url: str | None = None
    prices_read_on: str | None = Field(None, pattern=_ISO_DATE)
    prices_source: str | None = None
    prices_note: str | None = None
    currency: str = Field("USD", pattern=r"^(USD|CNY)$")
    headers: dict[str, str] = Field(default_factory=dict)
    models: list[ProviderModel] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)

    def model(self, model_id: str) -> ProviderModel | None:
        return next((m for m in self.models if m.id == model_id), None)

    def price_provenance(self, model: ProviderModel) -> tuple[str | None, str | None]:
        """(read on, source) of a model's prices: its own, else the provider's."""
        if model.prices_source:
            return model.prices_read_on, model.prices_source
        return self.prices_read_on, self.prices_source

    @model_validator(mode="after")
    def _sourced(self) -> Provider:
        for m in self.models:
            read_on, source = self.price_provenance(m)
            if self.locality == "cloud" and m.priced and not (read_on and source):
                raise ValueError(f"model '{m.id}' has prices but no prices_read_on/prices_source")
        return self


@cache
def load_catalog() -> dict[str, Provider]:
    """Every provider preset, validated (a broken catalog fails loudly at first use)."""
    raw = tomllib.loads(files("plinth.providers").joinpath("catalog.toml").read_text("utf-8"))
    return {key: Provider(key=key, **spec) for key, spec in raw["providers"].items()}


def provider(name: str) -> Provider:
    catalog = load_catalog()
    if name not in catalog:
        raise LookupError(f"No provider preset '{name}' (known: {', '.join(sorted(catalog))})")
    return catalog[name]


def _fill(url: str, **values: str | None) -> str:
    for name, value in values.items():
        placeholder = "{" + name + "}"
        if placeholder in url:
            if not value:
                raise ValueError(f"this provider's URL needs --{name} ({url})")
            url = url.replace(placeholder, value)
    return url


def deployment_from_preset(
    provider_name: str,
    model: str,
    *,
    api_key_env: str | None = None,
    base_url: str | None = None,
    region: str | None = None,
    resource: str | None = None,
    upstream_model: str | None = None,
    public_name: str | None = None,
    **overrides: Any,
) -> Deployment:
    """A deployment of ``model`` at a provider; the catalog's prices come along if known.

    ``base_url`` replaces the preset's URL; otherwise its ``{region}`` / ``{resource}``
    placeholders are filled from ``region`` / ``resource`` (ValueError when one is
    missing). ``upstream_model`` is the name sent upstream [default: ``model``];
    ``public_name`` is the name clients use [default: ``model``]. Any other Deployment
    field can be given in ``overrides``.
    """
    preset = provider(provider_name)
    known = preset.model(model)
    fields: dict[str, Any] = {
        "model": public_name or model,
        "upstream_model": upstream_model or model,
        "engine": preset.engine,
        "kind": known.kind if known else "chat",
        "provider": provider_name,
        "base_url": base_url or _fill(preset.base_url, region=region, resource=resource),
        "api_key_env": api_key_env or preset.api_key_env,
        "auth": preset.auth,
        "locality": preset.locality,
        "region": region or preset.region,
        "currency": preset.currency,
        "headers": dict(preset.headers),
    }
    if known is not None:
        fields |= {
            "input_price_per_mtok": known.input,
            "output_price_per_mtok": known.output,
            "cached_input_price_per_mtok": known.cached_input,
        }
    return Deployment.model_validate(fields | overrides)
