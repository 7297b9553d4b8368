"""A deliberately non-atomic engine, for tests only: the memory engine with each check and
its write split by a yield to the event loop, as a naive engine over a remote store does
them (read, then write in a second round trip). Between the two, another caller runs.

The concurrency tests of the conformance suite run against it expecting to fail: that each
one does shows it would catch a real engine that is not atomic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from gateway.engine.deliveries import CursorMove, QueuedDelivery, QueueLimits, Record
from gateway.engine.events import AppendResult, NewEvent
from gateway.engine.memory import MemoryEngine
from gateway.engine.memory.deliveries import MemoryDeliveryQueue
from gateway.engine.memory.events import MemoryEventLog, _digest, _now_ms
from gateway.engine.memory.presence import MemoryPresenceStore
from gateway.engine.memory.registry import MemoryRegistry
from gateway.engine.memory.throttle import MemoryThrottle
from gateway.engine.presence import PresenceSession
from gateway.engine.registry import RegistryConflict, Versioned


async def _round_trip() -> None:
    await asyncio.sleep(0)


class NonAtomicRegistry(MemoryRegistry):
    async def get(self, kind: str, record_id: str) -> Versioned | None:
        found = self._read(kind, record_id)
        await _round_trip()
        return found

    async def create(self, kind: str, record_id: str, record: Any) -> tuple[Versioned, bool]:
        existing = self._read(kind, record_id)
        await _round_trip()
        if existing is not None:
            return existing, False
        return self._write(kind, record_id, record, 1), True

    async def replace(
        self, kind: str, record_id: str, record: Any, expected_version: int
    ) -> Versioned:
        current = self._read(kind, record_id)
        await _round_trip()
        if current is None or current.version != expected_version:
            raise RegistryConflict(f"{kind} {record_id}")
        return self._write(kind, record_id, record, expected_version + 1)


class NonAtomicEventLog(MemoryEventLog):
    async def append(self, events: Sequence[NewEvent], dedup_ttl_seconds: float) -> AppendResult:
        now_ms = _now_ms()
        fresh = [event for event in events if not self._live(_digest(event.dedup_key), now_ms)]
        await _round_trip()
        for event in fresh:
            self._dedup.pop(_digest(event.dedup_key), None)  # checked already: write anyway
        result = await super().append(fresh, dedup_ttl_seconds)
        return AppendResult(result.stored, result.duplicates + len(events) - len(fresh))


class NonAtomicDeliveryQueue(MemoryDeliveryQueue):
    async def enqueue(
        self,
        deliveries: Sequence[QueuedDelivery],
        due_at: float,
        pending: Sequence[Record],
        move: CursorMove | None = None,
    ) -> int:
        if move is not None:
            current = self._cursors.get(move.name)
            await _round_trip()
            self._move(move, current)
        return self._add(deliveries, due_at, pending)

    async def claim(
        self,
        subscriber_id: str,
        now: float,
        limit: int,
        lease_seconds: float,
        *,
        max_in_flight: int,
        rate_per_second: float | None = None,
    ) -> list[QueuedDelivery]:
        held = self._held.get(subscriber_id)
        if held is None or held.parked:
            return []
        room = self._room(held, now, limit, max_in_flight, rate_per_second)
        chosen = held.visible.due(now)[:room]
        await _round_trip()
        return self._lease(held, chosen, now, lease_seconds, rate_per_second)


class NonAtomicPresenceStore(MemoryPresenceStore):
    async def join(
        self, hub_ids: Sequence[str], session: PresenceSession, status: str, now_ms: int
    ) -> list[str]:
        records = [self._get(hub_id, session.agent_id) for hub_id in hub_ids]
        await _round_trip()
        changed = [
            hub_id
            for hub_id, old in zip(hub_ids, records, strict=True)
            if self._join_hub(hub_id, session, status, now_ms, old)
        ]
        return self._changed(changed)


class NonAtomicThrottle(MemoryThrottle):
    async def take(self, key: str, rate_per_second: float, burst: float, now: float) -> float:
        bucket = self._buckets.get(key)
        await _round_trip()
        return self._take(key, bucket, rate_per_second, burst, now)


class NonAtomicEngine(MemoryEngine):
    name = "non-atomic"

    def __init__(self, *, limits: QueueLimits | None = None) -> None:
        super().__init__(limits=limits)
        self.registry = NonAtomicRegistry()
        self.events = NonAtomicEventLog()
        self.deliveries = NonAtomicDeliveryQueue(limits)
        self.presence = NonAtomicPresenceStore()
        self.throttle = NonAtomicThrottle()
