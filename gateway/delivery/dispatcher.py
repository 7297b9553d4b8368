"""The dispatcher loop: claims visible deliveries subscriber by subscriber, never more than a
subscriber's concurrency limit, rate limit and a global cap allow, and runs each attempt as
its own task, so a slow or dead subscriber only ever occupies its own slots.

A subscriber's concurrency (`PER_SUBSCRIBER_CONCURRENCY`) and `rateLimitPerSecond` hold
across every process: `claim` checks them in the engine. The global cap is this process's
own. The subscriber list is re-read only when the registry says subscribers changed, and a
disabled subscriber's queue is parked, so it is never polled.

Fairness: the global cap only limits a subscriber's deliveries beyond its first in flight. A
subscriber with nothing in flight may always start one, so however many slow subscribers
fill the cap, a healthy one is never kept waiting for them (the cap bounds the extra
concurrency; the guaranteed share costs at most one connection per subscriber with work).
Each pass also starts at the next due subscriber in turn, so the capped share rotates
instead of always going to the same subscribers first.

Ordering needs nothing here: the queue only shows the head of an ordered lane.

A subscriber's enabled flag (registry) and its parking (queue) live in two stores, so a
failure or a race between the two writes can leave them disagreeing (see
`gateway.delivery.worker`). The dispatcher converges them from both sides: a subscriber
disabled but due is parked when it comes due, and every `reconcile_seconds` the parked
subscribers are checked against the registry: one whose record says enabled is unparked,
one without a record is dropped. The failures this repairs move no change counter, hence a
timer; the pass is one read of the parked set (and of the registry only after a change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable

from gateway.delivery.outcome import SendResult
from gateway.delivery.worker import Deliverer
from gateway.engine.base import EngineUnavailable
from gateway.engine.deliveries import QueuedDelivery
from gateway.subscribers.model import Subscriber
from gateway.subscribers.store import SubscriberList

log = logging.getLogger("gateway.delivery")

PER_SUBSCRIBER_CONCURRENCY = 8
GLOBAL_CONCURRENCY = 256
POLL_SECONDS = 0.05
BACKOFF_SECONDS = 1.0
RECONCILE_SECONDS = 5.0


class Dispatcher:
    def __init__(
        self,
        deliverer: Deliverer,
        lease_seconds: float,
        *,
        per_subscriber: int = PER_SUBSCRIBER_CONCURRENCY,
        global_cap: int = GLOBAL_CONCURRENCY,
        reconcile_seconds: float = RECONCILE_SECONDS,
    ) -> None:
        """`lease_seconds`: how long a claimed delivery stays hidden from other processes
        (the delivery timeout plus a margin); a process that dies loses its claims then.
        `reconcile_seconds`: how often parked subscribers are checked against the registry
        (how long one left parked but enabled waits at most)."""
        self._deliverer = deliverer
        self._queue = deliverer.engine.deliveries
        self._subscribers = SubscriberList(deliverer.engine.registry)
        self._lease = lease_seconds
        self._per_subscriber = per_subscriber
        self._global_cap = global_cap
        self._in_flight: Counter[str] = Counter()
        self._tasks: dict[asyncio.Task[None], QueuedDelivery] = {}
        self._turn = 0
        self.reconcile_seconds = reconcile_seconds
        self._reconciled_at = -math.inf
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
            except EngineUnavailable:
                log.debug("engine unavailable; dispatcher retrying")
                await asyncio.sleep(BACKOFF_SECONDS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):  # wait_for (3.11) can swallow a cancel
                    await self._wake.wait()

    async def _dispatch_due(self) -> None:
        if self._closing:
            return
        now = self._deliverer.clock()
        if time.monotonic() - self._reconciled_at >= self.reconcile_seconds:
            await self._reconcile(now)
            self._reconciled_at = time.monotonic()
        due = await self._queue.due_subscribers(now)
        if not due:
            return
        subscribers = await self._subscribers.current()
        self._turn = (self._turn + 1) % len(due)
        for subscriber_id in due[self._turn :] + due[: self._turn]:
            subscriber = subscribers.get(subscriber_id)
            if subscriber is None:
                await self._queue.drop_subscriber(subscriber_id)
            elif not subscriber.enabled:
                await self._queue.park(subscriber_id)  # an unpark raced its disable
            else:
                await self._start_attempts(subscriber, now)

    async def _reconcile(self, now: float) -> None:
        """Unpark every parked subscriber whose record says enabled; drop the queue of one
        without a record. The parked set is read before the registry, so a subscriber
        found enabled was enabled after it was parked; should a disable land between the
        two reads, it is unparked wrongly but disabled, and parked again when it comes due
        (nothing of a disabled subscriber is ever claimed)."""
        parked = await self._queue.parked()
        if not parked:
            return
        subscribers = await self._subscribers.current()
        for subscriber_id in parked:
            subscriber = subscribers.get(subscriber_id)
            if subscriber is None:
                await self._queue.drop_subscriber(subscriber_id)
            elif subscriber.enabled:
                log.warning("subscriber %s was parked but enabled; unparked", subscriber_id)
                await self._queue.unpark(subscriber_id, now)

    async def _start_attempts(self, subscriber: Subscriber, now: float) -> None:
        in_flight = self._in_flight[subscriber.id]
        room = self._per_subscriber - in_flight
        if in_flight > 0:
            room = min(room, self._global_cap - len(self._tasks))
        if room <= 0:
            return
        claimed = await self._queue.claim(
            subscriber.id,
            now,
            room,
            self._lease,
            max_in_flight=self._per_subscriber,
            rate_per_second=subscriber.rate_limit_per_second,
        )
        for delivery in claimed:
            self._in_flight[subscriber.id] += 1
            task = asyncio.create_task(self._attempt(subscriber, delivery))
            self._tasks[task] = delivery
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

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
            log.debug("engine unavailable; delivery %s will be retried", delivery.id)
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
