"""A process follows the event log once: the fan-out loop and the enqueuer take what follows
their cursors from the batches its one stream reader read (the recent tail), and read Redis
only for a cursor outside it. `read_after` from the tail answers exactly as Redis does (the
conformance suite runs on it too); these tests check it against a process that has no tail,
and that a consumer at the tip sends no read of its own."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway.engine.events import StoredEvent
from gateway.engine.redis import RedisEngine, RedisOptions, open_redis_engine
from gateway.engine.redis.reader import parse_stream_id
from gateway.engine.redis.tail import RecentTail
from tests.redis_support import commands_sent, new_event


@pytest.fixture
def xranges(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every `XRANGE` any engine's connection sends from now on."""
    return commands_sent(monkeypatch, lambda packed: b"XRANGE" in packed)


async def follow(redis_engine: RedisEngine, cursor: str, count: int) -> list[str]:
    """What the fan-out loop does: `wait_after` from its cursor until `count` events came."""
    ids: list[str] = []
    while len(ids) < count:
        batch = await redis_engine.events.wait_after(cursor, 500, 2)
        assert batch, "the reader stopped bringing events"
        ids += [event.id for event in batch]
        cursor = batch[-1].id
    return ids


async def test_a_consumer_at_the_tip_reads_nothing_of_its_own(
    redis_engine: RedisEngine, xranges: list[bytes]
) -> None:
    cursor = (await redis_engine.events.append([new_event("warm")], 60)).stored[0].id
    consumers = [asyncio.create_task(follow(redis_engine, cursor, 60)) for _ in range(2)]
    await asyncio.sleep(0.2)  # both wait at the tip; the reader is reading
    stored: list[str] = []
    for round_ in range(6):
        batch = [new_event(f"k{round_}-{i}") for i in range(10)]
        stored += [event.id for event in (await redis_engine.events.append(batch, 60)).stored]
        await asyncio.sleep(0.01)
    for consumer in consumers:
        assert await asyncio.wait_for(consumer, 5) == stored
    # At most the first call of each, made before the reader had read anything.
    assert len(xranges) <= 2


async def test_read_after_from_the_tail_answers_as_redis_does(
    redis_engine: RedisEngine, redis_options: RedisOptions, xranges: list[bytes]
) -> None:
    start = await redis_engine.events.last_id()
    waiter = asyncio.create_task(follow(redis_engine, start, 40))  # starts the reader
    await asyncio.sleep(0.2)
    stored: list[StoredEvent] = []
    for round_ in range(4):
        batch = [new_event(f"k{round_}-{i}") for i in range(10)]
        stored += (await redis_engine.events.append(batch, 60)).stored
    assert await asyncio.wait_for(waiter, 5) == [event.id for event in stored]
    cursors = [start, *(event.id for event in stored)]
    untailed = await open_redis_engine(redis_options)  # another process: no reader, no tail
    try:
        xranges.clear()
        for cursor in cursors:
            for limit in (1, 7, 40, 100):
                expected = await untailed.events.read_after(cursor, limit)
                assert await redis_engine.events.read_after(cursor, limit) == expected
        assert len(xranges) < 2 * len(cursors) * 4  # every full page came from the tail
    finally:
        await untailed.close()
    # What this process trims, its reads no longer return.
    assert await redis_engine.events.trim(int(time.time() * 1000) + 1, 1 << 30) == 40
    assert await redis_engine.events.read_after(start, 5) == []


def _events(first: int, count: int, size: int = 10) -> tuple[list[Any], list[StoredEvent]]:
    ids = [(first + n, 0) for n in range(count)]
    events = [StoredEvent(f"{ms}-0", "h", None, "t", b"x" * size) for ms, _ in ids]
    return ids, events


def test_the_tail_holds_the_newest_within_its_bounds_and_only_what_has_no_gap() -> None:
    tail = RecentTail(max_events=5, max_bytes=1000)
    assert tail.following((0, 0), 10) is None  # nothing read yet
    tail.restart((100, 0))
    assert tail.following((100, 0), 10) == []  # at the tip: nothing newer read yet
    assert tail.following((99, 0), 10) is None  # before it: unknown
    ids, events = _events(101, 8)
    tail.extend((100, 0), ids, events)
    assert tail.following((103, 0), 10) == events[3:]  # the 5 newest: (103, 0) and after
    assert tail.following((102, 9), 10) is None  # dropped off the front
    assert tail.following((105, 0), 2) == events[5:7]
    assert tail.page((105, 0), 2) == events[5:7]
    assert tail.page((105, 0), 4) is None  # a short page may miss what the reader has not read
    assert tail.following((109, 0), 10) is None  # beyond the tip
    more_ids, more = _events(120, 1)
    tail.extend((115, 0), more_ids, more)  # a gap (a reconnect): starts over
    assert tail.following((108, 0), 10) is None
    assert tail.following((115, 0), 10) == more
    big_ids, big = _events(121, 3, size=400)
    tail.extend((120, 0), big_ids, big)
    assert tail.following((121, 0), 10) == big[1:]  # 1000 bytes at most
    assert parse_stream_id("121-0") == (121, 0)
