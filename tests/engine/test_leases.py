"""Lease conformance: one holder at a time among processes sharing the engine, renewed by
its holder, taken over once it lapses, given up by its holder only."""

from __future__ import annotations

import asyncio

from tests.engine.conftest import EngineFactory


async def test_one_holder_at_a_time_renewing_and_taken_over_once_it_lapses(
    make_engine: EngineFactory,
) -> None:
    first, second = await make_engine(), await make_engine()
    a, b = first.deliveries, second.deliveries
    assert await a.hold_lease("job", "A", 0.4)
    assert not await b.hold_lease("job", "B", 0.4)
    assert await a.hold_lease("job", "A", 0.4)  # renewed: runs 0.4 s from now
    await asyncio.sleep(0.25)
    assert await a.hold_lease("job", "A", 0.4)
    await asyncio.sleep(0.25)
    assert not await b.hold_lease("job", "B", 0.4)  # 0.5 s after A took it: renewals held
    assert await b.hold_lease("other job", "B", 0.4)  # leases are by name
    await asyncio.sleep(0.5)  # A stopped renewing: lapsed
    assert await b.hold_lease("job", "B", 0.4)
    assert not await a.hold_lease("job", "A", 0.4)


async def test_only_the_holder_releases_and_then_anyone_takes_it(
    make_engine: EngineFactory,
) -> None:
    first, second = await make_engine(), await make_engine()
    assert await first.deliveries.hold_lease("job", "A", 30)
    await second.deliveries.release_lease("job", "B")  # not B's to give up
    assert not await second.deliveries.hold_lease("job", "B", 30)
    await first.deliveries.release_lease("job", "A")
    assert await second.deliveries.hold_lease("job", "B", 30)
    await first.deliveries.release_lease("job", "A")  # no longer A's: nothing changes
    assert not await first.deliveries.hold_lease("job", "A", 30)
