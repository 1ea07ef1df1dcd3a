"""Large bodies are parsed off the event loop, at most PER_KEY per key at once."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from pydantic import BaseModel, field_validator

from plinth.api.http import OFF_LOOP_BYTES, PER_KEY, BodyParser
from plinth.errors import InvalidRequest, RateLimited

gate = threading.Event()
entered = threading.Semaphore(0)


class Recorded(BaseModel):
    model: str
    padding: str

    @field_validator("padding")
    @classmethod
    def _where(cls, value: str) -> str:
        return threading.current_thread().name


class Gated(BaseModel):
    model: str
    padding: str

    @field_validator("padding")
    @classmethod
    def _wait(cls, value: str) -> str:
        entered.release()
        gate.wait(timeout=30)
        return value


def body(size: int) -> bytes:
    return json.dumps({"model": "m", "padding": "x" * size}).encode()


def test_small_bodies_inline_large_ones_on_the_parser_threads() -> None:
    async def run() -> tuple[object, object]:
        parser = BodyParser()
        try:
            _, small = await parser.parse(body(100), Recorded, "k")
            _, large = await parser.parse(body(OFF_LOOP_BYTES), Recorded, "k")
        finally:
            parser.close()
        return small, large

    small, large = asyncio.run(run())
    assert isinstance(small, Recorded) and isinstance(large, Recorded)
    assert small.padding == threading.current_thread().name
    assert large.padding.startswith("plinth-body")


def test_a_refused_body_still_names_its_model() -> None:
    async def run() -> tuple[str | None, object]:
        parser = BodyParser()
        try:
            return await parser.parse(b'{"model": "m", "padding": 5}', Recorded, "k")
        finally:
            parser.close()

    model, parsed = asyncio.run(run())
    assert model == "m" and isinstance(parsed, InvalidRequest)


def test_a_key_with_its_large_bodies_in_progress_gets_429_others_do_not() -> None:
    async def run() -> None:
        parser = BodyParser()
        loop = asyncio.get_running_loop()
        try:
            held = [
                asyncio.create_task(parser.parse(body(OFF_LOOP_BYTES), Gated, "busy"))
                for _ in range(PER_KEY)
            ]
            for _ in range(PER_KEY):  # both are being parsed (WORKERS >= PER_KEY)
                await loop.run_in_executor(None, entered.acquire)
            with pytest.raises(RateLimited) as refused:
                await parser.parse(body(OFF_LOOP_BYTES), Gated, "busy")
            assert refused.value.retry_after_s == 1
            _, small = await parser.parse(body(10), Recorded, "busy")  # small: inline, allowed
            assert isinstance(small, Recorded)
            gate.set()
            assert all(isinstance(parsed, Gated) for _, parsed in await asyncio.gather(*held))
            _, again = await parser.parse(body(OFF_LOOP_BYTES), Recorded, "busy")
            assert isinstance(again, Recorded)
        finally:
            gate.set()
            parser.close()

    asyncio.run(run())
