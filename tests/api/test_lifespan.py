"""The lifespan closes exactly what it opened, in reverse order, however start-up ends.

Each resource the app holds is spied on (its open and its close are recorded);
then a failure is injected at each start-up step in turn. Whatever step fails,
the start raises that failure, every resource opened before it is closed in
reverse order, and no task is left running.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import plinth.app
from plinth.billing.guard import Billing
from plinth.engines.pool import EnginePool
from plinth.gateway import Gateway
from plinth.metering.recorder import UsageRecorder
from plinth.routing.router import Router
from plinth.routing.sync import DeploymentSync
from plinth.settings import Settings
from plinth.store.door import Database
from plinth.vectorstores.ingest import Ingestor
from plinth.vectorstores.service import VectorStores

pytestmark = pytest.mark.anyio

#: (class, method that opens it, method that closes it), spied on in every test.
RESOURCES: list[tuple[type[Any], str, str]] = [
    (Database, "__init__", "close"),
    (UsageRecorder, "start", "close"),
    (EnginePool, "__init__", "close"),
    (Router, "__init__", "close"),
    (Billing, "__init__", "close"),
    (VectorStores, "__init__", "close"),
    (Gateway, "__init__", "drain"),
    (Ingestor, "start", "close"),
]

#: Each start-up step, in order: (owner, attribute) replaced by something that raises.
STEPS: list[tuple[Any, str]] = [
    (plinth.app, "open_database"),
    (plinth.app, "bootstrap_admin_key"),
    (UsageRecorder, "start"),
    (plinth.app, "privacy_guard"),
    (EnginePool, "start"),
    (plinth.app, "Router"),
    (DeploymentSync, "refresh"),
    (plinth.app, "build_billing"),
    (plinth.app, "build_vector_stores"),
    (plinth.app, "Gateway"),
    (plinth.app, "build_response_cache"),
    (plinth.app, "Services"),
    (Ingestor, "start"),
    (Router, "run_health_checks"),
]


class Boom(Exception):
    """The injected failure."""


def spy(events: list[tuple[str, str]], kind: str, name: str, method: Callable[..., Any]) -> Any:
    if asyncio.iscoroutinefunction(method):

        @functools.wraps(method)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if kind == "open":
                result = await method(*args, **kwargs)
                events.append((kind, name))
                return result
            events.append((kind, name))
            return await method(*args, **kwargs)

        return async_wrapper

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        events.append((kind, name))
        return result

    return wrapper


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    recorded: list[tuple[str, str]] = []
    for cls, opener, closer in RESOURCES:
        monkeypatch.setattr(cls, opener, spy(recorded, "open", cls.__name__, getattr(cls, opener)))
        monkeypatch.setattr(cls, closer, spy(recorded, "close", cls.__name__, getattr(cls, closer)))
    return recorded


def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        load_bundled_models=False,
        # > 0 so that the health-check loop is one of the steps.
        routing={"health_interval_s": 3600},
    )


async def start_and_stop(tmp_path: Path) -> tuple[BaseException | None, set[asyncio.Task[Any]]]:
    """Start the app and stop it: what the start raised, and the tasks left running."""
    before = asyncio.all_tasks()
    app = plinth.app.create_app(settings(tmp_path)).app
    raised: BaseException | None = None
    try:
        async with app.router.lifespan_context(app):
            assert app.state.services.router is not None
    except Boom as exc:
        raised = exc
    return raised, {t for t in asyncio.all_tasks() - before if not t.done()}


def check_closed_in_reverse(events: list[tuple[str, str]]) -> list[str]:
    opened = [name for kind, name in events if kind == "open"]
    closed = [name for kind, name in events if kind == "close" and name in opened]
    assert closed == opened[::-1], events
    return opened


async def test_a_clean_start_and_stop_closes_every_resource_in_reverse(
    tmp_path: Path, events: list[tuple[str, str]]
) -> None:
    raised, leftover = await start_and_stop(tmp_path)
    assert raised is None
    opened = check_closed_in_reverse(events)
    assert sorted(opened) == sorted(cls.__name__ for cls, _, _ in RESOURCES)
    # The ledger is flushed after everything that writes to it, the database closed last.
    assert [name for _, name in events[-2:]] == ["UsageRecorder", "Database"]
    assert leftover == set()


@pytest.mark.parametrize(
    ("owner", "attribute"), STEPS, ids=[f"{o.__name__.split('.')[-1]}.{a}" for o, a in STEPS]
)
async def test_a_failure_at_any_start_up_step_closes_what_was_opened(
    tmp_path: Path,
    events: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
    attribute: str,
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise Boom(attribute)

    monkeypatch.setattr(owner, attribute, fail)
    raised, leftover = await start_and_stop(tmp_path)
    assert isinstance(raised, Boom) and str(raised) == attribute
    check_closed_in_reverse(events)
    assert leftover == set()


async def test_each_step_fails_after_the_steps_before_it_opened_their_resources(
    tmp_path: Path, events: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step list is in start-up order: failing later never opens less."""
    counts = []
    for owner, attribute in STEPS:
        events.clear()
        with monkeypatch.context() as patch:

            def fail(*args: Any, **kwargs: Any) -> Any:
                raise Boom(attribute)  # noqa: B023 - used before the loop moves on

            patch.setattr(owner, attribute, fail)
            raised, _ = await start_and_stop(tmp_path)
            assert isinstance(raised, Boom)
        counts.append(sum(1 for kind, _ in events if kind == "open"))
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == len(RESOURCES)
