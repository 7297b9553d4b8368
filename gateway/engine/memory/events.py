"""In-memory event log: events in id order, a dedup table, and an event to wake readers.

Trimming only ever removes from the front, so the log is kept as lists read from a start
offset (compacted now and then) instead of shifting millions of entries every round, with
the bytes held kept as a running sum. Dedup keys outlive the events by days, so they are
kept as 16-byte digests, whatever the length of the provider's identity of the event.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from gateway.engine.events import AppendResult, LogSize, NewEvent, StoredEvent, with_id
from gateway.engine.ids import MAX_SEQ, event_id_at

_COMPACT_AFTER = 4096
_Row = tuple[str, str, str | None, str, bytes]
"""A stored event as the log keeps it: (id, hub id, conversation id, type, payload), read
back as a `StoredEvent`. A tuple of strings and bytes alone is one the garbage collector
stops tracking, and a full collection stops the loop for as long as it walks what is
tracked: a StoredEvent per event held, tens of thousands, made it walk for tens of
milliseconds, the tail of every latency (docs/benchmarks.md)."""
_DROPPED: _Row = ("", "", None, "", b"")
"""Stands in for a trimmed event until the lists are compacted, so its bytes go at once."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _digest(dedup_key: str) -> bytes:
    return hashlib.blake2b(dedup_key.encode(), digest_size=16).digest()


class MemoryEventLog:
    """Ids are `ms-seq` from a clock that never goes backwards within the process. The floor
    starts at the engine's birth: nothing older can be resumed from a fresh process."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._events: list[_Row] = []
        self._start = 0
        self._bytes = 0
        self._dedup: dict[bytes, int] = {}
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

    def _live(self, digest: bytes, now_ms: int) -> bool:
        return self._dedup.get(digest, 0) > now_ms

    async def append(self, events: Sequence[NewEvent], dedup_ttl_seconds: float) -> AppendResult:
        now_ms = _now_ms()
        expires = now_ms + int(dedup_ttl_seconds * 1000)
        stored: list[StoredEvent] = []
        duplicates = 0
        seen_here: set[bytes] = set()
        for event in events:
            digest = _digest(event.dedup_key)
            if digest in seen_here or self._live(digest, now_ms):
                duplicates += 1
                continue
            seen_here.add(digest)
            event_id = self._next_id()
            payload = with_id(event_id, event.body)
            stored.append(
                StoredEvent(event_id, event.hub_id, event.conversation_id, event.type, payload)
            )
        for item in stored:
            self._ids.append(item.id)
            self._events.append(
                (item.id, item.hub_id, item.conversation_id, item.type, item.payload)
            )
            self._bytes += len(item.payload)
        for key in seen_here:
            self._dedup.pop(key, None)  # an expired key goes to the back: expiry order holds
            self._dedup[key] = expires
        if stored:
            self._arrived.set()
            self._arrived = asyncio.Event()
        return AppendResult(stored=stored, duplicates=duplicates)

    async def seen(self, dedup_keys: Sequence[str]) -> list[bool]:
        now_ms = _now_ms()
        return [self._live(_digest(key), now_ms) for key in dedup_keys]

    async def read_after(self, cursor: str, limit: int) -> list[StoredEvent]:
        start = bisect_right(self._ids, cursor, lo=self._start)
        return [StoredEvent(*row) for row in self._events[start : start + limit]]

    async def wait_after(self, cursor: str, limit: int, wait_seconds: float) -> list[StoredEvent]:
        arrived = self._arrived
        events = await self.read_after(cursor, limit)
        if events:
            return events
        try:
            async with asyncio.timeout(wait_seconds):  # wait_for (3.11) can swallow a cancel
                await arrived.wait()
        except TimeoutError:
            return []
        return await self.read_after(cursor, limit)

    async def last_id(self) -> str:
        return self._ids[-1] if len(self._ids) > self._start else self._floor

    async def history_floor(self) -> str:
        return self._floor

    async def trim(self, older_than_ms: int, max_bytes: int) -> int:
        end = bisect_left(self._ids, event_id_at(older_than_ms), lo=self._start)
        for index in range(self._start, end):
            self._drop(index)
        while self._bytes > max_bytes and end < len(self._events):
            self._drop(end)
            end += 1
        dropped = end - self._start
        if dropped:
            self._floor = max(self._floor, self._ids[end - 1])
            self._start = end
            self._compact()
        self._expire_dedup_keys(_now_ms())
        return dropped

    def _drop(self, index: int) -> None:
        self._bytes -= len(self._events[index][4])
        self._events[index] = _DROPPED

    def _compact(self) -> None:
        """Release the dropped entries once they are a good share of the lists."""
        if self._start < _COMPACT_AFTER or self._start < len(self._ids) // 2:
            return
        del self._ids[: self._start]
        del self._events[: self._start]
        self._start = 0

    async def size(self) -> LogSize:
        return LogSize(events=len(self._ids) - self._start, bytes=self._bytes)

    def _expire_dedup_keys(self, now_ms: int) -> None:
        """Keys are inserted with one TTL (and moved to the back when set again), so they
        expire in insertion order: stop at the first live one instead of scanning millions
        every round. A key given a longer TTL than later ones holds those back a while; they
        are then kept longer, never shorter."""
        expired = []
        for key, expiry in self._dedup.items():
            if expiry > now_ms:
                break
            expired.append(key)
        for key in expired:
            del self._dedup[key]
