"""Throttle conformance: token buckets by key, shared by every process."""

from __future__ import annotations

import asyncio

import pytest

from gateway.engine.base import Engine
from tests.engine.conftest import EngineFactory


async def test_a_new_bucket_is_full_then_refills_at_its_rate(make_engine: EngineFactory) -> None:
    first, second = await make_engine(), await make_engine()
    assert [await first.throttle.take("k", 2.0, 3.0, 100.0) for _ in range(3)] == [0.0] * 3
    assert await second.throttle.take("k", 2.0, 3.0, 100.0) == pytest.approx(0.5)
    assert await second.throttle.take("k", 2.0, 3.0, 100.25) == pytest.approx(0.25)
    assert await first.throttle.take("k", 2.0, 3.0, 100.5) == 0.0
    assert await first.throttle.take("k", 2.0, 3.0, 100.5) == pytest.approx(0.5)
    assert await first.throttle.take("other", 2.0, 3.0, 100.5) == 0.0


async def test_a_bucket_never_holds_more_than_its_burst(engine: Engine) -> None:
    await engine.throttle.take("k", 1.0, 2.0, 0.0)
    taken = [await engine.throttle.take("k", 1.0, 2.0, 1000.0) for _ in range(3)]
    assert taken[:2] == [0.0, 0.0]
    assert taken[2] > 0


async def test_a_bucket_left_to_refill_is_as_good_as_new(engine: Engine) -> None:
    for _ in range(2):
        await engine.throttle.take("k", 10.0, 2.0, 0.0)
    assert await engine.throttle.take("k", 10.0, 2.0, 0.01) > 0
    assert [await engine.throttle.take("k", 10.0, 2.0, 60.0) for _ in range(2)] == [0.0, 0.0]


async def test_concurrent_takes_share_one_bucket(make_racing_engine: EngineFactory) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    waits = await asyncio.gather(
        *(engine.throttle.take("k", 1.0, 5.0, 10.0) for engine in [first, second] * 5)
    )
    assert waits.count(0.0) == 5
