"""The in-memory event log: ids, dedup, all-or-nothing appends, cursors, waits and trimming."""

from __future__ import annotations

import asyncio
import re
import time

import orjson
import pytest

from gateway.engine import NewEvent, event_id_at
from gateway.engine.events import MAX_SEQ, event_id_ms
from gateway.engine.memory.events import MemoryEventLog

ID = re.compile(r"\d{13}-\d{6}")


def new(key: str, hub: str = "hub-a", conversation: str | None = "c1") -> NewEvent:
    body = orjson.dumps({"type": "message:customer", "hubId": hub, "key": key})
    return NewEvent(key, hub, conversation, "message:customer", body)


async def test_ids_are_fixed_width_and_sort_in_storage_order_across_hubs() -> None:
    log = MemoryEventLog()
    stored = []
    for index in range(2000):
        result = await log.append([new(f"k{index}", hub=f"hub-{index % 7}")], 60)
        stored.extend(result.stored)
    ids = [event.id for event in stored]
    assert all(ID.fullmatch(event_id) for event_id in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_payload_is_the_body_with_its_id_first() -> None:
    log = MemoryEventLog()
    (event,) = (await log.append([new("k1")], 60)).stored
    decoded = orjson.loads(event.payload)
    assert next(iter(decoded)) == "id"
    assert decoded == {"id": event.id, "type": "message:customer", "hubId": "hub-a", "key": "k1"}


async def test_duplicates_are_counted_and_not_stored_within_and_across_appends() -> None:
    log = MemoryEventLog()
    first = await log.append([new("a"), new("b"), new("a")], 60)
    assert [orjson.loads(e.payload)["key"] for e in first.stored] == ["a", "b"]
    assert first.duplicates == 1
    again = await log.append([new("b"), new("c")], 60)
    assert [orjson.loads(e.payload)["key"] for e in again.stored] == ["c"]
    assert again.duplicates == 1
    assert len(await log.read_after("0", 100)) == 3


async def test_read_after_is_a_cursor() -> None:
    log = MemoryEventLog()
    stored = (await log.append([new(f"k{i}") for i in range(10)], 60)).stored
    page = await log.read_after(stored[2].id, 3)
    assert [e.id for e in page] == [e.id for e in stored[3:6]]
    assert await log.read_after(stored[-1].id, 10) == []
    assert await log.last_id() == stored[-1].id


async def test_wait_after_wakes_on_append_and_times_out_empty() -> None:
    log = MemoryEventLog()
    cursor = await log.last_id()
    assert await log.wait_after(cursor, 10, 0.05) == []
    waiter = asyncio.create_task(log.wait_after(cursor, 10, 5))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    stored = (await log.append([new("k")], 60)).stored
    assert [e.id for e in await asyncio.wait_for(waiter, 1)] == [stored[0].id]


async def test_trim_drops_old_events_raises_the_floor_and_expires_dedup_keys() -> None:
    log = MemoryEventLog()
    floor_at_birth = await log.history_floor()
    old = (await log.append([new("old")], 0.05)).stored
    await asyncio.sleep(0.06)
    young = (await log.append([new("young")], 60)).stored
    cutoff_ms = event_id_ms(old[0].id) + 1
    assert event_id_ms(young[0].id) > cutoff_ms
    assert await log.trim(cutoff_ms) == 1
    assert [e.id for e in await log.read_after("0", 10)] == [young[0].id]
    assert await log.history_floor() == old[0].id > floor_at_birth
    again = await log.append([new("old")], 60)
    assert len(again.stored) == 1, "an expired dedup key no longer blocks the event"


async def test_a_fresh_log_cannot_resume_from_before_it_was_born() -> None:
    log = MemoryEventLog()
    assert await log.history_floor() >= event_id_at(int(time.time() * 1000) - 1000)


async def test_sequence_never_outgrows_its_width(monkeypatch: pytest.MonkeyPatch) -> None:
    log = MemoryEventLog()
    frozen = int(time.time() * 1000) + 10_000
    monkeypatch.setattr("gateway.engine.memory.events._now_ms", lambda: frozen)
    log._seq = MAX_SEQ - 1
    log._last_ms = frozen
    ids = [e.id for e in (await log.append([new(f"k{i}") for i in range(3)], 60)).stored]
    assert all(ID.fullmatch(event_id) for event_id in ids)
    assert ids == sorted(ids)
    assert ids[0] == event_id_at(frozen, MAX_SEQ)
    assert ids[1] == event_id_at(frozen + 1, 0)
