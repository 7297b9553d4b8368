"""The dispatcher loop: claims visible deliveries subscriber by subscriber, never more than a
subscriber's concurrency limit, rate limit and a global cap allow, and runs each attempt as
its own task, so a slow or dead subscriber only ever occupies its own slots.

Fairness: the global cap only limits a subscriber's deliveries beyond its first in flight. A
subscriber with nothing in flight may always start one, so however many slow subscribers
fill the cap, a healthy one is never kept waiting for them (the cap bounds the extra
concurrency; the guaranteed share costs at most one connection per subscriber with work).
Each pass also starts at the next due subscriber in turn, so the capped share rotates
instead of always going to the same subscribers first.

Ordering needs nothing here: the queue only shows the head of an ordered lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from gateway.delivery.outcome import SendResult
from gateway.delivery.worker import Deliverer
from gateway.engine.base import EngineUnavailable
from gateway.engine.deliveries import QueuedDelivery
from gateway.subscribers.model import Subscriber

log = logging.getLogger("gateway.delivery")

PER_SUBSCRIBER_CONCURRENCY = 8
GLOBAL_CONCURRENCY = 256
POLL_SECONDS = 0.05
BACKOFF_SECONDS = 1.0
LEASE_MARGIN_SECONDS = 30.0


@dataclass
class _TokenBucket:
    """`rateLimitPerSecond` as a token bucket holding at most one second's worth."""

    rate: float
    tokens: float
    updated: float

    @property
    def capacity(self) -> float:
        return max(self.rate, 1.0)

    def available(self, now: float) -> int:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return int(self.tokens)

    def take(self) -> None:
        self.tokens -= 1

    def full(self, now: float) -> bool:
        self.available(now)
        return self.tokens >= self.capacity


class Dispatcher:
    def __init__(
        self,
        deliverer: Deliverer,
        delivery_timeout: float,
        *,
        per_subscriber: int = PER_SUBSCRIBER_CONCURRENCY,
        global_cap: int = GLOBAL_CONCURRENCY,
    ) -> None:
        self._deliverer = deliverer
        self._queue = deliverer.engine.deliveries
        self._lease = delivery_timeout + LEASE_MARGIN_SECONDS
        self._per_subscriber = per_subscriber
        self._global_cap = global_cap
        self._in_flight: Counter[str] = Counter()
        self._tasks: dict[asyncio.Task[None], QueuedDelivery] = {}
        self._buckets: dict[str, _TokenBucket] = {}
        self._turn = 0
        self._wake = asyncio.Event()
        self._closing = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self, beat: Callable[[], None]) -> None:
        while True:
            beat()
            self._wake.clear()
            try:
                await self._dispatch_due()
                self._deliverer.metrics.delivery_queue_depth.set(await self._queue.depth())
            except EngineUnavailable:
                log.warning("engine unavailable; dispatcher retrying")
                await asyncio.sleep(BACKOFF_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _dispatch_due(self) -> None:
        if self._closing:
            return
        now = self._deliverer.clock()
        self._forget_full_buckets(now)
        due = await self._queue.due_subscribers(now)
        if not due:
            return
        subscribers = {s.id: s for s in await self._deliverer.store.list()}
        self._turn = (self._turn + 1) % len(due)
        for subscriber_id in due[self._turn :] + due[: self._turn]:
            subscriber = subscribers.get(subscriber_id)
            if subscriber is None:
                await self._queue.drop_subscriber(subscriber_id)
            elif subscriber.enabled:
                await self._start_attempts(subscriber, now)

    async def _start_attempts(self, subscriber: Subscriber, now: float) -> None:
        in_flight = self._in_flight[subscriber.id]
        room = self._per_subscriber - in_flight
        if in_flight > 0:
            room = min(room, self._global_cap - len(self._tasks))
        bucket = self._bucket(subscriber, now)
        if bucket is not None:
            room = min(room, bucket.available(now))
        if room <= 0:
            return
        for delivery in await self._queue.claim(subscriber.id, now, room, self._lease):
            if bucket is not None:
                bucket.take()
            self._in_flight[subscriber.id] += 1
            task = asyncio.create_task(self._attempt(subscriber, delivery))
            self._tasks[task] = delivery
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    def _forget_full_buckets(self, now: float) -> None:
        """A full bucket is the same as a new one: dropping it keeps only the buckets of
        subscribers sending right now, and a deleted subscriber's goes once it has refilled."""
        for subscriber_id, bucket in list(self._buckets.items()):
            if bucket.full(now):
                del self._buckets[subscriber_id]

    def _bucket(self, subscriber: Subscriber, now: float) -> _TokenBucket | None:
        rate = subscriber.rate_limit_per_second
        if rate is None:
            self._buckets.pop(subscriber.id, None)
            return None
        bucket = self._buckets.get(subscriber.id)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[subscriber.id] = _TokenBucket(rate, max(rate, 1.0), now)
        return bucket

    async def _attempt(self, subscriber: Subscriber, delivery: QueuedDelivery) -> None:
        """A send that raises (a bug, whatever its cause) still concludes as a failed attempt:
        counted, recorded, retried on the schedule, so no exception can make a delivery
        repeat without end. An error while concluding (the engine) leaves the delivery
        claimed: its lease runs out and it comes back."""
        try:
            try:
                result = await self._deliverer.send(subscriber, delivery)
            except Exception as exc:
                log.exception("delivery %s: sending failed unexpectedly", delivery.id)
                result = SendResult(None, f"gateway error: {type(exc).__name__}")
            await self._deliverer.conclude(subscriber, delivery, result)
        except EngineUnavailable:
            log.warning("engine unavailable; delivery %s will be retried", delivery.id)
        except Exception:
            log.exception("delivery %s: recording the attempt failed", delivery.id)
        finally:
            self._in_flight[subscriber.id] -= 1
            if self._in_flight[subscriber.id] <= 0:
                del self._in_flight[subscriber.id]
            self.wake()

    async def close(self) -> None:
        """Stop claiming, cancel attempts in flight and hand their deliveries back."""
        self._closing = True
        unfinished = dict(self._tasks)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        if unfinished:
            now = self._deliverer.clock()
            with contextlib.suppress(EngineUnavailable):
                await self._queue.release(list(unfinished.values()), now)
