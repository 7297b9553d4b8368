"""What only the in-memory event log has to get right: its own id sequence and the
compaction of its trimmed lists (the behaviour every engine shares is in the conformance
tests beside this file)."""

from __future__ import annotations

import time

import orjson
import pytest

from gateway.engine.events import LogSize, NewEvent
from gateway.engine.ids import MAX_SEQ, event_id_at, is_event_id
from gateway.engine.memory import events as memory_events
from gateway.engine.memory.events import MemoryEventLog


def new(key: str) -> NewEvent:
    return NewEvent(key, "hub-a", "c1", "message:customer", orjson.dumps({"key": key}))


async def test_sequence_never_outgrows_its_width(monkeypatch: pytest.MonkeyPatch) -> None:
    log = MemoryEventLog()
    frozen = int(time.time() * 1000) + 10_000
    monkeypatch.setattr("gateway.engine.memory.events._now_ms", lambda: frozen)
    log._seq = MAX_SEQ - 1
    log._last_ms = frozen
    ids = [e.id for e in (await log.append([new(f"k{i}") for i in range(3)], 60)).stored]
    assert all(is_event_id(event_id) for event_id in ids)
    assert ids == sorted(ids)
    assert ids[0] == event_id_at(frozen, MAX_SEQ)
    assert ids[1] == event_id_at(frozen + 1, 0)


async def test_trimmed_entries_are_released_and_compacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_events, "_COMPACT_AFTER", 4)
    log = MemoryEventLog()
    stored = (await log.append([new(f"k{i}") for i in range(10)], 60)).stored
    one = len(stored[0].payload)
    assert await log.trim(0, 7 * one) == 3
    assert log._start == 3 and log._events[0] is memory_events._DROPPED
    assert await log.trim(0, 2 * one) == 5
    assert log._start == 0 and len(log._events) == 2
    assert [e.id for e in await log.read_after("0", 10)] == [e.id for e in stored[8:]]
    assert await log.size() == LogSize(2, 2 * one)
