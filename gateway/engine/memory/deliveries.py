"""In-memory delivery queue: per subscriber a heap of visibility times with lazy deletion
(the stand-in for a Redis sorted set), lanes with one active delivery each, capped logs and
capped dead-letter stores."""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from gateway.engine.deliveries import (
    ATTEMPT_LOG_SIZE,
    DEAD_LETTER_SIZE,
    CursorConflict,
    CursorMove,
    DeadLetter,
    QueuedDelivery,
    Record,
)

_COMPACT_SLACK = 1024


@dataclass
class _Visibility:
    """When each of a subscriber's visible deliveries shows; the heap may hold stale
    entries, recognised by their time no longer matching `score`."""

    score: dict[str, float] = field(default_factory=dict)
    heap: list[tuple[float, int, str]] = field(default_factory=list)

    def set(self, delivery_id: str, at: float, order: int) -> None:
        self.score[delivery_id] = at
        heapq.heappush(self.heap, (at, order, delivery_id))
        if len(self.heap) > 2 * len(self.score) + _COMPACT_SLACK:
            self.heap = [entry for entry in self.heap if self.score.get(entry[2]) == entry[0]]
            heapq.heapify(self.heap)

    def earliest(self) -> float | None:
        while self.heap:
            at, _, delivery_id = self.heap[0]
            if self.score.get(delivery_id) == at:
                return at
            heapq.heappop(self.heap)
        return None

    def pop_visible(self, now: float) -> str | None:
        at = self.earliest()
        if at is None or at > now:
            return None
        return heapq.heappop(self.heap)[2]


@dataclass
class _Lane:
    """An ordered subscriber's conversation: one active delivery, the rest by event id."""

    active: str
    waiting: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _DeadLetters:
    """One subscriber's dead letters: encoded records by event id (the hash) and the ids in
    order (the sorted set)."""

    letters: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def keep(self, event_id: str, payload: bytes, record: Record) -> None:
        if event_id not in self.letters:
            insort(self.order, event_id)
        self.letters[event_id] = (payload, orjson.dumps(record))
        while len(self.order) > DEAD_LETTER_SIZE:
            del self.letters[self.order.pop(0)]

    def resolve(self, event_id: str) -> None:
        if self.letters.pop(event_id, None) is not None:
            self.order.remove(event_id)

    def after(self, cursor: str, limit: int) -> list[DeadLetter]:
        start = bisect_right(self.order, cursor)
        return [
            DeadLetter(event_id, self.letters[event_id][0], orjson.loads(self.letters[event_id][1]))
            for event_id in self.order[start : start + limit]
        ]


class MemoryDeliveryQueue:
    def __init__(self) -> None:
        self._records: dict[str, QueuedDelivery] = {}
        self._visible: dict[str, _Visibility] = {}
        self._lanes: dict[str, _Lane] = {}
        self._cursors: dict[str, str] = {}
        self._attempts: dict[str, OrderedDict[str, bytes]] = {}
        self._failing: dict[str, float] = {}
        self._dead: dict[str, _DeadLetters] = {}
        self._order = itertools.count()

    def _show(self, delivery: QueuedDelivery, at: float) -> None:
        visibility = self._visible.setdefault(delivery.subscriber_id, _Visibility())
        visibility.set(delivery.id, at, next(self._order))

    async def enqueue(
        self,
        deliveries: Sequence[QueuedDelivery],
        due_at: float,
        move: CursorMove | None = None,
    ) -> int:
        if move is not None:
            if self._cursors.get(move.name) != move.expected:
                raise CursorConflict(move.name)
            self._cursors[move.name] = move.to
        added = 0
        for delivery in deliveries:
            if delivery.id in self._records:
                continue
            self._records[delivery.id] = delivery
            added += 1
            lane = self._lanes.get(delivery.lane) if delivery.lane else None
            if lane is not None:
                insort(lane.waiting, (delivery.event_id, delivery.id))
                continue
            if delivery.lane:
                self._lanes[delivery.lane] = _Lane(active=delivery.id)
            self._show(delivery, due_at)
        return added

    async def cursor(self, name: str) -> str | None:
        return self._cursors.get(name)

    async def due_subscribers(self, now: float) -> list[str]:
        due = []
        for subscriber_id, visibility in self._visible.items():
            earliest = visibility.earliest()
            if earliest is not None and earliest <= now:
                due.append(subscriber_id)
        return due

    async def claim(
        self, subscriber_id: str, now: float, limit: int, lease_seconds: float
    ) -> list[QueuedDelivery]:
        visibility = self._visible.get(subscriber_id)
        claimed: list[QueuedDelivery] = []
        while visibility is not None and len(claimed) < limit:
            delivery_id = visibility.pop_visible(now)
            if delivery_id is None:
                break
            claimed.append(self._records[delivery_id])
        for delivery in claimed:
            self._show(delivery, now + lease_seconds)
        return claimed

    async def retry(self, delivery: QueuedDelivery, due_at: float) -> None:
        if delivery.id not in self._records:
            return
        self._records[delivery.id] = delivery
        self._show(delivery, due_at)

    async def finish(self, delivery: QueuedDelivery) -> None:
        dead = self._dead.get(delivery.subscriber_id)
        if dead is not None:
            dead.resolve(delivery.event_id)
        self._forget(delivery)

    async def bury(self, delivery: QueuedDelivery, record: Record) -> None:
        if delivery.id not in self._records:
            return
        dead = self._dead.setdefault(delivery.subscriber_id, _DeadLetters())
        dead.keep(delivery.event_id, delivery.payload, record)
        self._forget(delivery)

    async def dead_letters(self, subscriber_id: str, after: str, limit: int) -> list[DeadLetter]:
        dead = self._dead.get(subscriber_id)
        return [] if dead is None else dead.after(after, limit)

    def _forget(self, delivery: QueuedDelivery) -> None:
        if self._records.pop(delivery.id, None) is None:
            return
        visibility = self._visible.get(delivery.subscriber_id)
        if visibility is not None:
            visibility.score.pop(delivery.id, None)
        lane = self._lanes.get(delivery.lane) if delivery.lane else None
        if lane is None or lane.active != delivery.id:
            return
        if not lane.waiting:
            del self._lanes[delivery.lane or ""]
            return
        _, lane.active = lane.waiting.pop(0)
        self._show(self._records[lane.active], 0.0)

    async def release(self, deliveries: Sequence[QueuedDelivery], now: float) -> None:
        for delivery in deliveries:
            if delivery.id in self._records:
                self._show(delivery, now)

    async def drop_subscriber(self, subscriber_id: str) -> None:
        for delivery_id, delivery in list(self._records.items()):
            if delivery.subscriber_id == subscriber_id:
                del self._records[delivery_id]
                if delivery.lane:
                    self._lanes.pop(delivery.lane, None)
        self._visible.pop(subscriber_id, None)
        self._attempts.pop(subscriber_id, None)
        self._failing.pop(subscriber_id, None)
        self._dead.pop(subscriber_id, None)

    async def depth(self) -> int:
        return len(self._records)

    async def record_attempt(
        self, subscriber_id: str, key: str, record: Record, *, only_new: bool = False
    ) -> None:
        log = self._attempts.setdefault(subscriber_id, OrderedDict())
        if only_new and key in log:
            return
        log[key] = orjson.dumps(record)
        while len(log) > ATTEMPT_LOG_SIZE:
            log.popitem(last=False)

    async def attempts(self, subscriber_id: str) -> list[Record]:
        log = self._attempts.get(subscriber_id, OrderedDict())
        return [dict(orjson.loads(raw)) for raw in reversed(log.values())]

    async def mark_failing(self, subscriber_id: str, now: float) -> float:
        return self._failing.setdefault(subscriber_id, now)

    async def clear_failing(self, subscriber_id: str) -> None:
        self._failing.pop(subscriber_id, None)
