"""One delivery attempt, start to finish: render and send, then decide and record the outcome
in the queue, the attempt log, the metrics and, when it comes to that, the subscriber's state.

The two halves are separate so the dispatcher can turn a send that raised into a failed
attempt. A subscriber deleted while its attempt was in flight is dropped from the queue again
after the attempt's writes, so no record, failure mark or dead letter of it outlives it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from gateway.delivery.attempts import attempt_record
from gateway.delivery.formats import render
from gateway.delivery.outcome import Decision, SendResult, decide
from gateway.delivery.sender import HttpSender
from gateway.engine.base import Engine
from gateway.engine.deliveries import QueuedDelivery
from gateway.metrics import Metrics
from gateway.subscribers.model import DisabledReason, Subscriber
from gateway.subscribers.store import SubscriberStore

log = logging.getLogger("gateway.delivery")


@dataclass(frozen=True)
class Deliverer:
    engine: Engine
    sender: HttpSender
    metrics: Metrics
    retry_schedule: Sequence[float]
    clock: Callable[[], float] = field(default=time.time)

    @property
    def store(self) -> SubscriberStore:
        return SubscriberStore(self.engine.registry)

    async def send(self, subscriber: Subscriber, delivery: QueuedDelivery) -> SendResult:
        """Render and send one attempt; only `conclude` changes any state."""
        request = render(subscriber, delivery.event_id, delivery.payload, self.clock())
        return await self.sender.send(subscriber.url, request)

    async def conclude(
        self, subscriber: Subscriber, delivery: QueuedDelivery, result: SendResult
    ) -> None:
        """Count the attempt: finish, retry or bury the delivery, then record it, count it
        and track the subscriber's health. The queue move comes first, so whatever fails
        after it, the attempt is counted and the delivery cannot repeat without end."""
        attempt = delivery.attempts + 1
        now = self.clock()
        decision = decide(result, attempt, self.retry_schedule, now)
        current = await self.store.get(subscriber.id)
        if current is None:
            return
        queue = self.engine.deliveries
        next_at = None if decision.retry_in is None else now + decision.retry_in
        record = attempt_record(
            delivery,
            attempt,
            decision.status,
            result.status,
            _error_text(result, decision),
            now,
            None if decision.gone else next_at,
        )
        if decision.status == "dead":
            await queue.bury(replace(delivery, attempts=attempt), record)
        elif next_at is None:
            await queue.finish(delivery)
        else:
            await queue.retry(replace(delivery, attempts=attempt), next_at)
        await queue.record_attempt(subscriber.id, f"{delivery.id}#{attempt}", record)
        self.metrics.deliveries.labels(decision.status).inc()
        await self._track_health(current, decision, now)
        if await self.store.get(subscriber.id) is None:
            await queue.drop_subscriber(subscriber.id)

    async def _track_health(self, subscriber: Subscriber, decision: Decision, now: float) -> None:
        queue = self.engine.deliveries
        if decision.status == "succeeded":
            await queue.clear_failing(subscriber.id)
            return
        if decision.gone:
            await self._disable(subscriber, "gone")
            return
        failing_since = await queue.mark_failing(subscriber.id, now)
        if now - failing_since >= subscriber.disable_after_seconds:
            await self._disable(subscriber, "failing")

    async def _disable(self, subscriber: Subscriber, reason: DisabledReason) -> None:
        if not subscriber.enabled:
            return
        await self.store.save(replace(subscriber, enabled=False, disabled_reason=reason))
        log.warning("subscriber %s disabled (%s)", subscriber.id, reason)


def _error_text(result: SendResult, decision: Decision) -> str | None:
    if decision.gone:
        return "410 Gone: the subscriber is disabled until enabled again"
    return result.error
