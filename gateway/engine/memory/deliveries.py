"""In-memory delivery queue: one `Held` per subscriber, and a schedule of the unparked
subscribers by the earliest time one of their deliveries is visible (the stand-in for the
Redis sorted set of subscribers), so finding who is due costs what is due, not what is held.

Every method runs without awaiting, so each is one atomic step.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from gateway.engine.deliveries import (
    Concluded,
    Conclusion,
    CursorConflict,
    CursorMove,
    DeadLetter,
    QueuedDelivery,
    QueueLimits,
    QueueStats,
    Record,
    overflowed_record,
)
from gateway.engine.memory.held import Entry, Held
from gateway.engine.memory.schedule import Schedule


class MemoryDeliveryQueue:
    def __init__(self, limits: QueueLimits | None = None) -> None:
        self.limits = limits or QueueLimits()
        self._claims = itertools.count(1)
        self._held: dict[str, Held] = {}
        self._due = Schedule()
        self._cursors: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._depth = 0
        self._queued_bytes = 0
        self._dead_bytes = 0
        self._overflowed = 0
        self._dead_dropped = 0

    def _of(self, subscriber_id: str) -> Held:
        held = self._held.get(subscriber_id)
        if held is None:
            held = self._held[subscriber_id] = Held(subscriber_id)
        return held

    def _reindex(self, held: Held) -> None:
        """Keep the subscriber's place in the due schedule in step with its deliveries."""
        earliest = None if held.parked else held.visible.earliest()
        if earliest is None:
            self._due.remove(held.subscriber_id)
        else:
            self._due.set(held.subscriber_id, earliest)

    async def enqueue(
        self,
        deliveries: Sequence[QueuedDelivery],
        due_at: float,
        pending: Sequence[Record],
        move: CursorMove | None = None,
    ) -> int:
        if move is not None:
            self._move(move, self._cursors.get(move.name))
        return self._add(deliveries, due_at, pending)

    def _move(self, move: CursorMove, current: str | None) -> None:
        if current != move.expected:
            raise CursorConflict(move.name)
        self._cursors[move.name] = move.to

    def _add(
        self, deliveries: Sequence[QueuedDelivery], due_at: float, pending: Sequence[Record]
    ) -> int:
        touched: dict[str, Held] = {}
        added = 0
        for delivery, record in zip(deliveries, pending, strict=True):
            held = self._of(delivery.subscriber_id)
            if delivery.id in held.entries:
                continue
            held.add(delivery, due_at)
            added += 1
            self._depth += 1
            self._queued_bytes += len(delivery.payload)
            if f"{delivery.id}#1" not in held.attempts:
                held.record(f"{delivery.id}#1", record, self.limits.attempt_log_size)
            touched[held.subscriber_id] = held
        for held in touched.values():
            self._overflow(held, due_at)
            self._reindex(held)
        return added

    async def cursor(self, name: str) -> str | None:
        return self._cursors.get(name)

    async def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        now = time.monotonic()
        current = self._leases.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._leases[name] = (holder, now + seconds)
        return True

    async def release_lease(self, name: str, holder: str) -> None:
        current = self._leases.get(name)
        if current is not None and current[0] == holder:
            del self._leases[name]

    async def due_subscribers(self, now: float) -> list[str]:
        return self._due.due(now)

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
        chosen: list[str] = []
        while len(chosen) < room:
            delivery_id = held.visible.pop_due(now)
            if delivery_id is None:
                break
            chosen.append(delivery_id)
        return self._lease(held, chosen, now, lease_seconds, rate_per_second)

    @staticmethod
    def _room(held: Held, now: float, limit: int, max_in_flight: int, rate: float | None) -> int:
        tokens = held.tokens(rate, now)
        return max(0, min(limit, max_in_flight - held.in_flight(now), int(min(tokens, limit))))

    def _lease(
        self, held: Held, chosen: list[str], now: float, lease_seconds: float, rate: float | None
    ) -> list[QueuedDelivery]:
        tokens = [(delivery_id, str(next(self._claims))) for delivery_id in chosen]
        claimed = held.lease(tokens, now + lease_seconds)
        held.take(rate, now, len(claimed))
        self._reindex(held)
        return claimed

    async def conclude(self, conclusion: Conclusion) -> Concluded:
        delivery = conclusion.delivery
        held = self._held.get(delivery.subscriber_id)
        if held is None or not held.holds_claim(delivery):
            return Concluded(applied=False, failing_since=None)
        if conclusion.outcome == "retry":
            if conclusion.due_at is None:
                raise ValueError("a retry needs its due_at")
            stored = replace(delivery, claim="")
            held.entries[delivery.id] = replace(held.entries[delivery.id], delivery=stored)
            held.leases.remove(delivery.id)
            held.claims.pop(delivery.id, None)
            held.visible.set(delivery.id, conclusion.due_at)
        else:
            self._forget(held, delivery.id)
            if conclusion.outcome == "finish":
                self._change_dead(held, lambda: held.dead.resolve(delivery.event_id))
            else:
                self._bury(held, delivery, conclusion.record)
        held.record(conclusion.record_key, conclusion.record, self.limits.attempt_log_size)
        if conclusion.failed_at is None:
            held.failing_since = None
        elif held.failing_since is None:
            held.failing_since = conclusion.failed_at
        self._reindex(held)
        return Concluded(applied=True, failing_since=held.failing_since)

    def _forget(self, held: Held, delivery_id: str) -> Entry | None:
        entry = held.forget(delivery_id)
        if entry is not None:
            self._depth -= 1
            self._queued_bytes -= len(entry.delivery.payload)
        return entry

    def _bury(self, held: Held, delivery: QueuedDelivery, record: Record) -> None:
        def keep() -> None:
            held.dead.keep(delivery.event_id, delivery.payload, record)
            dropped, _ = held.dead.trim(self.limits.max_dead_letters, self.limits.max_dead_bytes)
            self._dead_dropped += dropped

        self._change_dead(held, keep)

    def _change_dead(self, held: Held, change: Callable[[], None]) -> None:
        """Apply a change to the subscriber's dead letters, keeping the byte total true."""
        before = held.dead.held_bytes
        change()
        self._dead_bytes += held.dead.held_bytes - before

    def _overflow(self, held: Held, now: float) -> None:
        """Past the queued-bytes cap, the oldest delivery not in flight becomes dead, its
        latest attempt record saying why."""
        while held.queued_bytes > self.limits.max_queued_bytes:
            entry = held.oldest_unclaimed(now)
            if entry is None:
                return
            delivery = entry.delivery
            key = f"{delivery.id}#{max(delivery.attempts, 1)}"
            record = overflowed_record(held.logged(key), delivery, now)
            self._forget(held, delivery.id)
            held.record(key, record, self.limits.attempt_log_size)
            self._bury(held, delivery, record)
            self._overflowed += 1

    async def release(self, deliveries: Sequence[QueuedDelivery], now: float) -> None:
        for delivery in deliveries:
            held = self._held.get(delivery.subscriber_id)
            if held is None or not held.holds_claim(delivery):
                continue
            held.leases.remove(delivery.id)
            held.claims.pop(delivery.id, None)
            held.visible.set(delivery.id, now)
            self._reindex(held)

    async def park(self, subscriber_id: str) -> None:
        held = self._of(subscriber_id)
        held.parked = True
        self._reindex(held)

    async def unpark(self, subscriber_id: str, now: float) -> None:
        held = self._held.get(subscriber_id)
        if held is None:
            return
        held.parked = False
        held.failing_since = None
        held.in_flight(now)
        waiting = sorted(held.visible.items(), key=lambda item: item[1])
        for delivery_id, _ in waiting:
            if delivery_id not in held.leases:
                held.visible.set(delivery_id, now)
        self._reindex(held)

    async def parked(self) -> list[str]:
        return [subscriber_id for subscriber_id, held in self._held.items() if held.parked]

    async def dead_letters(self, subscriber_id: str, after: str, limit: int) -> list[DeadLetter]:
        held = self._held.get(subscriber_id)
        return [] if held is None else held.dead.after(after, limit)

    async def attempts(self, subscriber_id: str) -> list[Record]:
        held = self._held.get(subscriber_id)
        if held is None:
            return []
        return [held.logged(key) or {} for key in reversed(held.attempts)]

    async def drop_subscriber(self, subscriber_id: str) -> None:
        held = self._held.pop(subscriber_id, None)
        self._due.remove(subscriber_id)
        if held is None:
            return
        self._depth -= len(held.entries)
        self._queued_bytes -= held.queued_bytes
        self._dead_bytes -= held.dead.held_bytes

    async def stats(self, now: float) -> QueueStats:
        earliest = self._due.earliest()
        waited = 0.0 if earliest is None else max(0.0, now - earliest)
        return QueueStats(
            depth=self._depth,
            queued_bytes=self._queued_bytes,
            dead_bytes=self._dead_bytes,
            oldest_due_seconds=waited,
            overflowed_total=self._overflowed,
            dead_dropped_total=self._dead_dropped,
        )
