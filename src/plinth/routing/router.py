"""The router: public model names, their deployments, and the order to try them.

It owns one :class:`DeploymentState` per deployment (engine, circuit breaker,
outstanding requests, moving-average TTFT, health) and rebuilds the table when
deployments change: from ``plinth.toml`` at start, from the database whenever
the admin API or the CLI changes it (polled, so every replica converges), and
from the local model catalog. Unchanged deployments keep their state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from plinth.deployment import Deployment, Locality, api_key_env_refusal
from plinth.engine_kinds import CATALOG_ENGINE
from plinth.engines.base import Engine, ModelKind
from plinth.engines.pool import EnginePool
from plinth.engines.registry import engine_factory
from plinth.errors import ModelNotFound, NoDeploymentAvailable, PermissionDenied, UpstreamError
from plinth.routing.aliases import Aliases, owner_of
from plinth.routing.state import Attempt, CircuitBreaker, DeploymentState
from plinth.routing.strategies import STRATEGIES
from plinth.settings import RoutingSettings
from plinth.tokens import Estimate

log = logging.getLogger(__name__)

Sourced = tuple[Deployment, str]  # a deployment and where it was defined
T = TypeVar("T")


def local_deployment(engine: Engine) -> Deployment:
    """The implicit deployment of a local catalog model under its own name."""
    return Deployment(
        id=engine.model_id,
        model=engine.model_id,
        engine=CATALOG_ENGINE,
        kind=engine.kind,
        upstream_model=engine.model_id,
        locality="local",
    )


class Router:
    def __init__(self, settings: RoutingSettings, local: EnginePool):
        self.settings = settings
        self.local = local
        self._states: dict[str, DeploymentState] = {}
        self._routes: dict[str, list[DeploymentState]] = {}
        self._lock = asyncio.Lock()
        # None when plinth.toml defines none: a request then runs no alias code.
        self.aliases = (
            Aliases(settings.aliases, settings.tenant_aliases)
            if settings.aliases or settings.tenant_aliases
            else None
        )

    # --- the table ------------------------------------------------------------------

    def public_models(self) -> list[tuple[str, ModelKind]]:
        return [(name, states[0].deployment.kind) for name, states in self._routes.items()]

    def listed_models(self, tenant_id: str | None) -> list[tuple[str, ModelKind, str]]:
        """``(name, kind, owned_by)`` of every served model and of every alias this
        tenant may use whose target is served (an alias shadows a model's name)."""
        visible = self.aliases.visible(tenant_id) if self.aliases is not None else {}
        aliases = {alias: target for alias, target in visible.items() if target in self._routes}
        listed = [
            (name, states[0].deployment.kind, "plinth")
            for name, states in self._routes.items()
            if name not in aliases
        ]
        for alias, target in aliases.items():
            listed.append((alias, self._routes[target][0].deployment.kind, owner_of(alias)))
        return listed

    def has(self, model: str) -> bool:
        return model in self._routes or (self.aliases is not None and self.aliases.known(model))

    def engines_of(self, model: str, tenant_id: str | None = None) -> set[str]:
        """The engine kinds of the deployments a request for ``model`` may use."""
        return {s.deployment.engine for s in self._routes.get(self.resolve(model, tenant_id), ())}

    def resolve(self, model: str, tenant_id: str | None = None) -> str:
        """The served model a request for ``model`` goes to (aliases resolved)."""
        return model if self.aliases is None else self.aliases.resolve(model, tenant_id)

    def states(self) -> list[DeploymentState]:
        return list(self._states.values())

    def state(self, deployment_id: str) -> DeploymentState | None:
        return self._states.get(deployment_id)

    async def load(self, deployments: Iterable[Sourced]) -> None:
        """Make the table match ``deployments`` plus the local catalog models."""
        wanted: dict[str, Sourced] = {}
        for engine in self.local.all():
            wanted[engine.model_id] = (local_deployment(engine), "catalog")
        for deployment, source in deployments:
            if deployment.id in wanted and wanted[deployment.id][1] != "catalog":
                log.warning("deployment id %r is defined twice; keeping the first", deployment.id)
                continue
            wanted[deployment.id] = (deployment, source)
        async with self._lock:
            states: dict[str, DeploymentState] = {}
            stale: list[DeploymentState] = []
            for deployment_id, (deployment, source) in wanted.items():
                current = self._states.get(deployment_id)
                if current is not None and current.deployment == deployment:
                    current.source = source
                    states[deployment_id] = current
                    continue
                if current is not None:
                    stale.append(current)
                built = self._build(deployment, source)
                if built is not None:
                    states[deployment_id] = built
            stale += [s for i, s in self._states.items() if i not in states]
            routes: dict[str, list[DeploymentState]] = {}
            for state in states.values():
                routes.setdefault(state.deployment.model, []).append(state)
            self._states, self._routes = states, routes
        for state in stale:
            if not state.is_local:  # local engines belong to the pool
                await state.engine.close()

    def _build(self, deployment: Deployment, source: str) -> DeploymentState | None:
        settings = self.settings
        if deployment.is_local:
            target = deployment.target_model
            if not self.local.has(target):
                log.error(
                    "deployment %r names local model %r, which is not loaded; skipping it",
                    deployment.id,
                    target,
                )
                return None
            engine = self.local.get(target)
        else:
            refusal = api_key_env_refusal(deployment.api_key_env, settings.api_key_env_allow)
            if refusal:  # stored before the rule, or by a replica allowing more
                log.error("deployment %r skipped: %s", deployment.id, refusal)
                return None
            try:
                engine = engine_factory(deployment.engine)(deployment)
            except Exception:
                log.exception("cannot build deployment %r; skipping it", deployment.id)
                return None
            if deployment.api_key_env and deployment.api_key() is None:
                log.warning(
                    "deployment %r: environment variable %s is not set; it will send no key",
                    deployment.id,
                    deployment.api_key_env,
                )
        return DeploymentState(
            deployment,
            engine,
            CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_s),
            source=source,
            usd_per_unit=settings.usd_per_unit.get(deployment.currency),
            ewma_alpha=settings.latency_ewma_alpha,
        )

    async def close(self) -> None:
        async with self._lock:
            for state in self._states.values():
                if not state.is_local:
                    await state.engine.close()
            self._states, self._routes = {}, {}

    # --- choosing -------------------------------------------------------------------

    def kind(self, model: str, tenant_id: str | None = None) -> ModelKind:
        return self._route(self.resolve(model, tenant_id), asked=model)[0].deployment.kind

    def _route(self, model: str, *, asked: str | None = None) -> list[DeploymentState]:
        states = self._routes.get(model)
        if not states and asked is not None and asked != model:
            raise ModelNotFound(
                f"The model '{asked}' is an alias of '{model}', which is not served here; "
                "point the alias (routing.aliases in plinth.toml) at a model GET /v1/models lists",
                param="model",
            )
        if not states:
            raise ModelNotFound(
                f"The model '{model}' does not exist or is not served here; "
                "GET /v1/models lists the available ones",
                param="model",
            )
        return states

    def _serving(self, model: str, endpoint: str) -> list[DeploymentState]:
        """The model's deployments that serve ``endpoint``; a 404 saying what to configure."""
        states = [s for s in self._routes.get(model, ()) if endpoint in s.deployment.endpoints]
        if states:
            return states
        where = (
            f"model '{model}' has deployments ({', '.join(s.id for s in self._routes[model])}),"
            f' but none lists "{endpoint}" in its endpoints'
            if model in self._routes
            else f"no deployment serves model '{model}'"
        )
        raise ModelNotFound(
            f"No deployment can serve /v1/{endpoint.replace('.', '/')} for this request: {where}."
            f' Configure one with model = "{model}" and endpoints = ["{endpoint}"]'
            " ([[deployments]] in plinth.toml, or POST /admin/deployments)",
            param="model",
        )

    def plan(
        self,
        model: str,
        estimate: Estimate,
        *,
        localities: frozenset[Locality] | None = None,
        why_restricted: str = "",
        tenant_id: str | None = None,
        endpoint: str | None = None,
    ) -> list[DeploymentState]:
        """The deployments to try, in order; raises if none may serve now.

        ``model`` may be an alias: it is resolved for ``tenant_id`` first.
        ``endpoint`` (a pass-through one, e.g. "rerank") keeps only the
        deployments that declare it.
        """
        asked, model = model, self.resolve(model, tenant_id)
        if endpoint is not None:
            states = self._serving(model, endpoint)
        else:
            states = self._route(model, asked=asked)
        if localities is not None:
            states = [s for s in states if s.deployment.locality in localities]
            if not states:
                allowed = " or ".join(sorted(localities))
                raise PermissionDenied(
                    f"Model '{model}' has no {allowed} deployment, and {why_restricted or 'policy'}"
                    f" allows only {allowed} processing for this request",
                    param="model",
                    code="locality_not_available",
                )
        usable = [s for s in states if s.usable()]
        if not usable:
            reasons = "; ".join(f"{s.id}: {_unusable_reason(s)}" for s in states)
            raise NoDeploymentAvailable(
                f"No deployment of model '{model}' can serve now ({reasons}); retry later"
            )
        if len(usable) == 1:  # nothing to order (a model on one deployment, e.g. local)
            return usable
        strategy = self.settings.strategies.get(model, self.settings.strategy)
        return STRATEGIES[strategy](usable, estimate)

    # --- attempts -------------------------------------------------------------------

    async def try_in_order(
        self,
        plan: list[DeploymentState],
        call: Callable[[DeploymentState], Awaitable[T]],
        on_failure: Callable[[Attempt, UpstreamError], None],
        *,
        max_attempts: int | None = None,
    ) -> tuple[T, Attempt]:
        """Call deployments in plan order until one succeeds or attempts run out.

        ``max_attempts`` overrides the setting (1 for a deployment test: one try, no retry).

        Only an :class:`UpstreamError` is tried again: on the next deployment
        not yet tried, or, once all were, on the next in order after a backoff;
        one whose error rules out the same deployment is dropped. The
        successful attempt is still open (its deployment busy): the caller
        closes it when the response (or stream) is done.
        """
        settings = self.settings
        excluded: set[str] = set()
        tried: dict[str, UpstreamError] = {}
        failures: list[UpstreamError] = []
        number = 0
        while number < (max_attempts or settings.max_attempts):
            candidates = [s for s in plan if s.id not in excluded]
            if not candidates:
                break
            fresh = [s for s in candidates if s.id not in tried]
            state = fresh[0] if fresh else candidates[number % len(candidates)]
            if state.id in tried:  # a repeat: back off first
                wait = _backoff(settings, number, tried[state.id])
                if wait is None:
                    excluded.add(state.id)
                    continue
                await asyncio.sleep(wait)
            number += 1
            try:
                with state.attempt() as attempt:
                    result = await call(state)
            except UpstreamError as exc:
                on_failure(attempt, exc)
                tried[state.id] = exc
                failures.append(exc)
                if not exc.same_deployment_ok:
                    excluded.add(state.id)
                continue
            return result, attempt
        last = failures[-1]  # the plan is never empty
        if len(failures) > 1:
            last.message += f" (gave up after {len(failures)} attempts)"
        raise last

    # --- health ---------------------------------------------------------------------

    async def check_health(self) -> None:
        """Probe every remote deployment once, concurrently."""
        remote = [s for s in self._states.values() if not s.is_local]
        await asyncio.gather(*(self._probe(s) for s in remote))

    async def _probe(self, state: DeploymentState) -> None:
        try:
            await state.engine.health()
        except Exception as exc:  # noqa: BLE001 - a failed probe is a state, not a crash
            state.health_failed(str(exc)[:300])
            log.warning("health check failed for %s: %s", state.id, exc)
        else:
            state.health_passed()

    async def run_health_checks(self) -> None:
        """Forever: probe every ``health_interval_s`` seconds (cancel to stop)."""
        interval = self.settings.health_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check_health()
            except Exception:  # each probe records its own failure; this is anything else
                log.exception("health checks failed; trying again next interval")


def _backoff(settings: RoutingSettings, number: int, error: UpstreamError) -> float | None:
    """Seconds to wait before trying a deployment again; None: don't."""
    if error.retry_after_s is not None:
        return error.retry_after_s if error.retry_after_s <= settings.backoff_max_s else None
    backoff: float = settings.backoff_initial_s * 2.0 ** max(0, number - 1)
    return min(settings.backoff_max_s, backoff)


def _unusable_reason(state: DeploymentState) -> str:
    if state.healthy is False:
        return f"health check failing ({state.last_health_error})"
    breaker = state.breaker.snapshot()
    return f"circuit {breaker['state']} after {breaker['consecutive_failures']} failures"
