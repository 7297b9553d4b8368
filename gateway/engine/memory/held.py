"""What the memory queue holds for one subscriber: its deliveries in enqueue order, when each
is visible, its leases, its lanes, its rate bucket, its attempt log, its dead letters and its
run of failures — one object, so dropping a subscriber is dropping it."""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import orjson

from gateway.engine.deliveries import QueuedDelivery, Record
from gateway.engine.memory.dead_letters import DeadLetters
from gateway.engine.memory.schedule import Schedule


@dataclass(slots=True)
class Entry:
    """A held delivery and when it was first due (a lane's later entries have been owed
    since then, not since their turn came)."""

    delivery: QueuedDelivery
    enqueued_at: float


@dataclass(slots=True)
class Lane:
    """An ordered lane: the one active delivery and the rest as a heap by event id (entries
    whose delivery is no longer held are skipped when the lane moves on)."""

    active: str
    waiting: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Bucket:
    """`rate_per_second` as tokens, holding at most one second's worth (at least one)."""

    tokens: float
    updated: float

    @staticmethod
    def capacity(rate: float) -> float:
        return max(rate, 1.0)

    def available(self, rate: float, now: float) -> float:
        refill = max(0.0, now - self.updated) * rate
        return min(self.capacity(rate), self.tokens + refill)


@dataclass(eq=False)
class Held:
    subscriber_id: str
    entries: OrderedDict[str, Entry] = field(default_factory=OrderedDict)
    visible: Schedule = field(default_factory=Schedule)
    """Delivery id -> when it is visible: its due time, or its lease's end once claimed."""
    leases: Schedule = field(default_factory=Schedule)
    """Claimed delivery id -> when its lease ends (expired ones are dropped when counted)."""
    claims: dict[str, str] = field(default_factory=dict)
    """Claimed delivery id -> the token of its latest claim (kept after the lease ends, until
    it is claimed again, retried or forgotten)."""
    lanes: dict[str, Lane] = field(default_factory=dict)
    queued_bytes: int = 0
    bucket: Bucket | None = None
    attempts: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    dead: DeadLetters = field(default_factory=DeadLetters)
    failing_since: float | None = None
    parked: bool = False

    def in_flight(self, now: float) -> int:
        """Deliveries claimed under a lease that has not run out."""
        while self.leases.pop_due(now) is not None:
            pass
        return len(self.leases)

    def tokens(self, rate: float | None, now: float) -> float:
        if rate is None:
            return float("inf")
        return Bucket.capacity(rate) if self.bucket is None else self.bucket.available(rate, now)

    def take(self, rate: float | None, now: float, count: int) -> None:
        if rate is None:
            self.bucket = None
            return
        updated = now if self.bucket is None else max(self.bucket.updated, now)
        self.bucket = Bucket(self.tokens(rate, now) - count, updated)

    def lease(self, tokens: list[tuple[str, str]], until: float) -> list[QueuedDelivery]:
        """Lease each `(delivery id, claim token)` until `until`."""
        for delivery_id, token in tokens:
            self.visible.set(delivery_id, until)
            self.leases.set(delivery_id, until)
            self.claims[delivery_id] = token
        return [replace(self.entries[i].delivery, claim=token) for i, token in tokens]

    def holds_claim(self, delivery: QueuedDelivery) -> bool:
        """Whether `delivery` is held and its claim token is the latest claim's."""
        return delivery.id in self.entries and self.claims.get(delivery.id, "") == delivery.claim

    def add(self, delivery: QueuedDelivery, due_at: float) -> None:
        """Hold a new delivery; visible at `due_at` unless its lane has an active one."""
        self.entries[delivery.id] = Entry(delivery, due_at)
        self.queued_bytes += len(delivery.payload)
        lane = self.lanes.get(delivery.lane) if delivery.lane else None
        if lane is not None:
            heapq.heappush(lane.waiting, (delivery.event_id, delivery.id))
            return
        if delivery.lane:
            self.lanes[delivery.lane] = Lane(delivery.id)
        self.visible.set(delivery.id, due_at)

    def forget(self, delivery_id: str) -> Entry | None:
        """Stop holding the delivery; the next in its lane becomes visible."""
        entry = self.entries.pop(delivery_id, None)
        if entry is None:
            return None
        self.visible.remove(delivery_id)
        self.leases.remove(delivery_id)
        self.claims.pop(delivery_id, None)
        self.queued_bytes -= len(entry.delivery.payload)
        name = entry.delivery.lane
        lane = self.lanes.get(name) if name else None
        if lane is not None and lane.active == delivery_id:
            self._advance(name or "", lane)
        return entry

    def _advance(self, name: str, lane: Lane) -> None:
        while lane.waiting:
            _, following = heapq.heappop(lane.waiting)
            entry = self.entries.get(following)
            if entry is not None:
                lane.active = following
                self.visible.set(following, entry.enqueued_at)
                return
        del self.lanes[name]

    def oldest_unclaimed(self, now: float) -> Entry | None:
        """The delivery held longest that no process is attempting right now."""
        self.in_flight(now)
        for delivery_id, entry in self.entries.items():
            if delivery_id not in self.leases:
                return entry
        return None

    def record(self, key: str, record: Record, keep: int) -> None:
        """Newest first; a key already logged is updated where it is."""
        self.attempts[key] = orjson.dumps(record)
        while len(self.attempts) > keep:
            self.attempts.popitem(last=False)

    def logged(self, key: str) -> Record | None:
        raw = self.attempts.get(key)
        return None if raw is None else dict(orjson.loads(raw))
