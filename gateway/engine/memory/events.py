"""In-memory event log: a list ordered by id, a dedup table, and an event to wake readers."""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections.abc import Sequence

from gateway.engine.events import (
    MAX_SEQ,
    AppendResult,
    NewEvent,
    StoredEvent,
    event_id_at,
    with_id,
)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MemoryEventLog:
    """Ids are `ms-seq` from a clock that never goes backwards within the process. The floor
    starts at the engine's birth: nothing older can be resumed from a fresh process."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._events: list[StoredEvent] = []
        self._dedup: dict[str, int] = {}
        self._last_ms = _now_ms()
        self._seq = 0
        self._floor = event_id_at(self._last_ms)
        self._arrived = asyncio.Event()

    def _next_id(self) -> str:
        now = _now_ms()
        if now > self._last_ms:
            self._last_ms, self._seq = now, 0
        elif self._seq < MAX_SEQ:
            self._seq += 1
        else:
            self._last_ms, self._seq = self._last_ms + 1, 0
        return event_id_at(self._last_ms, self._seq)

    async def append(self, events: Sequence[NewEvent], dedup_ttl_seconds: float) -> AppendResult:
        expires = _now_ms() + int(dedup_ttl_seconds * 1000)
        stored: list[StoredEvent] = []
        duplicates = 0
        seen_here: set[str] = set()
        for event in events:
            if event.dedup_key in self._dedup or event.dedup_key in seen_here:
                duplicates += 1
                continue
            seen_here.add(event.dedup_key)
            event_id = self._next_id()
            stored.append(
                StoredEvent(
                    id=event_id,
                    hub_id=event.hub_id,
                    conversation_id=event.conversation_id,
                    type=event.type,
                    payload=with_id(event_id, event.body),
                )
            )
        for item in stored:
            self._ids.append(item.id)
            self._events.append(item)
        for key in seen_here:
            self._dedup[key] = expires
        if stored:
            self._arrived.set()
            self._arrived = asyncio.Event()
        return AppendResult(stored=stored, duplicates=duplicates)

    async def read_after(self, cursor: str, limit: int) -> list[StoredEvent]:
        start = bisect_right(self._ids, cursor)
        return self._events[start : start + limit]

    async def wait_after(self, cursor: str, limit: int, wait_seconds: float) -> list[StoredEvent]:
        arrived = self._arrived
        events = await self.read_after(cursor, limit)
        if events:
            return events
        try:
            await asyncio.wait_for(arrived.wait(), wait_seconds)
        except TimeoutError:
            return []
        return await self.read_after(cursor, limit)

    async def last_id(self) -> str:
        return self._ids[-1] if self._ids else self._floor

    async def history_floor(self) -> str:
        return self._floor

    async def trim(self, older_than_ms: int) -> int:
        cutoff = event_id_at(older_than_ms)
        count = bisect_right(self._ids, cutoff)
        if count:
            self._floor = max(self._floor, self._ids[count - 1])
            del self._ids[:count]
            del self._events[:count]
        self._expire_dedup_keys(_now_ms())
        return count

    def _expire_dedup_keys(self, now_ms: int) -> None:
        """Keys are inserted with one TTL, so they expire in insertion order: stop at the
        first live one instead of scanning millions every round. A key given a longer TTL
        than later ones holds those back a while; they are then kept longer, never shorter."""
        expired = []
        for key, expiry in self._dedup.items():
            if expiry > now_ms:
                break
            expired.append(key)
        for key in expired:
            del self._dedup[key]
