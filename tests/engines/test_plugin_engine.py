"""A third-party engine kind, registered through the ``plinth.engines`` entry points,
can be named in a deployment and serves requests like Plinth's own engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pytest
from pydantic import ValidationError

from gatewaysupport import AppFactory, deployment
from plinth import engine_kinds
from plinth.deployment import Deployment
from plinth.engines.base import Engine, Json
from upstreamfake import FakeUpstream

ECHO = "echo-plugin"


class EchoEngine(Engine):
    """Answers every chat with the last user message, upper-cased."""

    def __init__(self, deployment: Deployment):
        super().__init__(deployment.model, deployment.kind)
        self.deployment = deployment

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def chat(self, body: Json) -> Json:
        text = str(body["messages"][-1]["content"]).upper()
        return {
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
        }


@pytest.fixture
def echo_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if a package declared ``echo-plugin = "test_plugin_engine:EchoEngine"``."""
    plugin = EntryPoint(name=ECHO, value=f"{__name__}:EchoEngine", group=engine_kinds.GROUP)

    def with_plugin(**kw: Any) -> list[EntryPoint]:
        return [*entry_points(**kw), plugin]

    monkeypatch.setattr(engine_kinds, "entry_points", with_plugin)
    engine_kinds.forget_installed()
    yield
    monkeypatch.undo()
    engine_kinds.forget_installed()


@pytest.fixture
def echo_installed_then_removed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The plugin installed now; calling the fixture's value removes it again."""
    plugin = EntryPoint(name=ECHO, value=f"{__name__}:EchoEngine", group=engine_kinds.GROUP)
    monkeypatch.setattr(engine_kinds, "entry_points", lambda **kw: [*entry_points(**kw), plugin])
    engine_kinds.forget_installed()

    def remove() -> None:
        monkeypatch.undo()
        engine_kinds.forget_installed()

    yield remove
    remove()


def test_unknown_engine_kinds_are_refused_naming_the_installed_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown engine 'echo-plugin'.*anthropic.*openai"):
        Deployment(model="m", engine=ECHO, base_url="http://x.test/v1")


def test_builtin_kinds_know_whether_they_are_local() -> None:
    local = Deployment(model="m", engine="llamacpp")
    remote = Deployment(model="m", engine="openai", base_url="http://x.test/v1")
    assert (local.is_local, remote.is_local) == (True, False)


@pytest.mark.usefixtures("echo_installed")
def test_a_plugin_kind_can_be_named_in_a_deployment_and_serves(gateway_app: AppFactory) -> None:
    deployment = Deployment(model="shout", engine=ECHO, base_url="http://echo.test/v1")
    assert deployment.is_local is False
    client = gateway_app([])
    created = client.post(
        "/admin/deployments",
        json={"model": "shout", "engine": ECHO, "base_url": "http://echo.test/v1"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["engine"] == ECHO
    answer = client.post(
        "/v1/chat/completions",
        json={"model": "shout", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "HI"
    assert answer.json()["usage"]["total_tokens"] == 3


def test_a_stored_deployment_of_a_plugin_this_replica_lacks_is_skipped(
    gateway_app: AppFactory,
    upstreams: Callable[[], FakeUpstream],
    echo_installed_then_removed: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    up = upstreams()
    client = gateway_app([deployment(up)])
    kept = {"model": "kept", "base_url": up.base_url, "id": "kept"}
    assert client.post("/admin/deployments", json=kept).status_code == 201
    shout = {"model": "shout", "engine": ECHO, "base_url": "http://echo.test/v1"}
    assert client.post("/admin/deployments", json=shout).status_code == 201
    also = {**shout, "model": "whisper", "engine": ECHO, "id": "whisper"}
    assert client.post("/admin/deployments", json=also).status_code == 201
    echo_installed_then_removed()
    sync = client.app.state.services.deployments  # type: ignore[attr-defined]
    client.portal.call(lambda: sync.refresh(force=True))  # type: ignore[union-attr]
    assert "unknown engine 'echo-plugin'" in caplog.text
    listed = client.get("/admin/deployments").json()["data"]
    # Both skipped; the configured one and the other stored one still serve.
    assert sorted(d["id"] for d in listed) == sorted(["kept", f"gpt-fake@127.0.0.1:{up.port}"])
    hello = [{"role": "user", "content": "hi"}]
    missing = client.post("/v1/chat/completions", json={"model": "shout", "messages": hello})
    assert missing.status_code == 404


def test_the_admin_api_refuses_an_engine_kind_that_is_not_installed(
    gateway_app: AppFactory,
) -> None:
    client = gateway_app([])
    refused = client.post(
        "/admin/deployments", json={"model": "m", "engine": "nope", "base_url": "http://x.test/v1"}
    )
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert (
        error["param"] == "engine" and "installed: anthropic, llamacpp, openai" in error["message"]
    )
