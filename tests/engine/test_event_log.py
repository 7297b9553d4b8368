"""Event log conformance: ids, all-or-nothing appends with dedup keys that outlive the
history, cursors and waits, trimming by age then bytes, the floor, and the log's size."""

from __future__ import annotations

import asyncio
import time

import orjson

from gateway.engine.base import Engine
from gateway.engine.events import LogSize, NewEvent
from gateway.engine.ids import event_id_at, event_id_ms, is_event_id
from tests.engine.conftest import EngineFactory


def new(key: str, hub: str = "hub-a", size: int = 0) -> NewEvent:
    body = orjson.dumps({"type": "message:customer", "hubId": hub, "key": key, "pad": "x" * size})
    return NewEvent(key, hub, "c1", "message:customer", body)


def keys(events: list) -> list[str]:  # type: ignore[type-arg]
    return [orjson.loads(event.payload)["key"] for event in events]


async def test_ids_are_fixed_width_and_sort_in_storage_order_across_hubs(engine: Engine) -> None:
    stored = []
    for index in range(300):
        result = await engine.events.append([new(f"k{index}", hub=f"hub-{index % 7}")], 60)
        stored.extend(result.stored)
    ids = [event.id for event in stored]
    assert all(is_event_id(event_id) for event_id in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_payload_is_the_body_with_its_id_first(engine: Engine) -> None:
    (event,) = (await engine.events.append([new("k1")], 60)).stored
    decoded = orjson.loads(event.payload)
    assert next(iter(decoded)) == "id"
    assert decoded["id"] == event.id
    assert (event.hub_id, event.conversation_id, event.type) == ("hub-a", "c1", "message:customer")


async def test_duplicates_are_counted_and_not_stored_within_and_across_appends(
    make_engine: EngineFactory,
) -> None:
    first, second = await make_engine(), await make_engine()
    result = await first.events.append([new("a"), new("b"), new("a")], 60)
    assert (keys(result.stored), result.duplicates) == (["a", "b"], 1)
    again = await second.events.append([new("b"), new("c")], 60)
    assert (keys(again.stored), again.duplicates) == (["c"], 1)
    assert keys(await first.events.read_after("0", 100)) == ["a", "b", "c"]
    assert await first.events.seen(["a", "c", "zzz"]) == [True, True, False]


async def test_dedup_keys_live_their_window_then_go(engine: Engine) -> None:
    await engine.events.append([new("short")], 0.2)
    assert await engine.events.seen(["short"]) == [True]
    assert (await engine.events.append([new("short")], 60)).duplicates == 1
    await asyncio.sleep(0.3)
    assert await engine.events.seen(["short"]) == [False]
    assert len((await engine.events.append([new("short")], 60)).stored) == 1


async def test_dedup_keys_outlive_the_events_they_came_with(engine: Engine) -> None:
    await engine.events.append([new("k1"), new("k2")], 60)
    assert await engine.events.trim(int(time.time() * 1000) + 1, 1 << 30) == 2
    assert await engine.events.read_after("0", 10) == []
    redelivered = await engine.events.append([new("k1"), new("k3")], 60)
    assert (keys(redelivered.stored), redelivered.duplicates) == (["k3"], 1)


async def test_read_after_is_a_cursor(engine: Engine) -> None:
    stored = (await engine.events.append([new(f"k{i}") for i in range(10)], 60)).stored
    page = await engine.events.read_after(stored[2].id, 3)
    assert [e.id for e in page] == [e.id for e in stored[3:6]]
    assert await engine.events.read_after(stored[-1].id, 10) == []
    assert await engine.events.last_id() == stored[-1].id


async def test_wait_after_wakes_every_waiter_on_append_and_times_out_empty(
    make_engine: EngineFactory,
) -> None:
    first, second = await make_engine(), await make_engine()
    cursor = await first.events.last_id()
    assert await first.events.wait_after(cursor, 10, 0.05) == []
    waiters = [
        asyncio.create_task(engine.events.wait_after(cursor, 10, 5)) for engine in (first, second)
    ]
    await asyncio.sleep(0.05)
    assert not any(waiter.done() for waiter in waiters)
    stored = (await first.events.append([new("k")], 60)).stored
    for waiter in waiters:
        assert [e.id for e in await asyncio.wait_for(waiter, 2)] == [stored[0].id]


async def test_a_fresh_log_starts_at_a_floor_no_older_than_itself(engine: Engine) -> None:
    floor = await engine.events.history_floor()
    assert floor >= event_id_at(int(time.time() * 1000) - 60_000)
    assert await engine.events.last_id() == floor
    assert await engine.events.size() == LogSize(0, 0)


async def test_trim_by_age_drops_what_came_before_the_cutoff(engine: Engine) -> None:
    old = (await engine.events.append([new("old1"), new("old2")], 60)).stored
    await asyncio.sleep(0.01)
    young = (await engine.events.append([new("young")], 60)).stored
    cutoff_ms = event_id_ms(young[0].id)
    assert event_id_ms(old[-1].id) < cutoff_ms
    assert await engine.events.trim(cutoff_ms, 1 << 30) == 2
    assert keys(await engine.events.read_after("0", 10)) == ["young"]
    assert await engine.events.history_floor() == old[-1].id
    assert await engine.events.trim(cutoff_ms, 1 << 30) == 0
    assert await engine.events.size() == LogSize(1, len(young[0].payload))


async def test_trim_by_bytes_drops_the_oldest_until_the_rest_fits(engine: Engine) -> None:
    stored = (await engine.events.append([new(f"k{i}", size=1000) for i in range(10)], 60)).stored
    sizes = [len(event.payload) for event in stored]
    assert await engine.events.size() == LogSize(10, sum(sizes))
    keep = sum(sizes[-3:])
    assert await engine.events.trim(0, keep + sizes[0] - 1) == 7
    assert keys(await engine.events.read_after("0", 100)) == ["k7", "k8", "k9"]
    assert await engine.events.history_floor() == stored[6].id
    assert await engine.events.size() == LogSize(3, keep)
    assert await engine.events.last_id() == stored[-1].id


async def test_trim_by_age_then_by_bytes(engine: Engine) -> None:
    old = (await engine.events.append([new("old", size=10)], 60)).stored
    await asyncio.sleep(0.01)
    young = (await engine.events.append([new(f"y{i}", size=500) for i in range(4)], 60)).stored
    one = len(young[0].payload)
    assert await engine.events.trim(event_id_ms(young[0].id), 2 * one) == 3
    assert keys(await engine.events.read_after(old[0].id, 10)) == ["y2", "y3"]
    assert await engine.events.history_floor() == young[1].id


async def test_an_emptied_log_resumes_from_its_floor(engine: Engine) -> None:
    stored = (await engine.events.append([new("a"), new("b")], 60)).stored
    await engine.events.trim(int(time.time() * 1000) + 1, 1 << 30)
    assert await engine.events.history_floor() == stored[-1].id
    assert await engine.events.last_id() == stored[-1].id
    assert await engine.events.size() == LogSize(0, 0)
    later = (await engine.events.append([new("c")], 60)).stored
    assert later[0].id > stored[-1].id


async def test_concurrent_redeliveries_store_the_event_once(
    make_racing_engine: EngineFactory,
) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    results = await asyncio.gather(
        *(
            engine.events.append([new("same"), new(f"own-{i}")], 60)
            for i, engine in enumerate([first, second] * 3)
        )
    )
    assert sum(len(result.stored) for result in results) == 1 + 6
    assert sum(result.duplicates for result in results) == 5
    assert keys(await first.events.read_after("0", 100)).count("same") == 1
