"""The dispatcher loop: claims visible deliveries subscriber by subscriber, never more than a
subscriber's concurrency limit, rate limit and a global cap allow, and runs each attempt as
its own task, so a slow or dead subscriber only ever occupies its own slots.

Ordering needs nothing here: the queue only shows the head of an ordered lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

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

    def available(self, now: float) -> int:
        self.tokens = min(max(self.rate, 1.0), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return int(self.tokens)

    def take(self) -> None:
        self.tokens -= 1


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
        due = await self._queue.due_subscribers(now)
        if not due:
            return
        subscribers = {s.id: s for s in await self._deliverer.store.list()}
        for subscriber_id in due:
            subscriber = subscribers.get(subscriber_id)
            if subscriber is None:
                await self._queue.drop_subscriber(subscriber_id)
            elif subscriber.enabled:
                await self._start_attempts(subscriber, now)

    async def _start_attempts(self, subscriber: Subscriber, now: float) -> None:
        room = min(
            self._per_subscriber - self._in_flight[subscriber.id],
            self._global_cap - len(self._tasks),
        )
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
        """Errors here leave the delivery claimed: its lease runs out and it comes back."""
        try:
            await self._deliverer.attempt(subscriber, delivery)
        except EngineUnavailable:
            log.warning("engine unavailable; delivery %s will be retried", delivery.id)
        except Exception:
            log.exception("delivery %s failed unexpectedly", delivery.id)
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
