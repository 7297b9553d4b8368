"""One delivery attempt, start to finish: render, send, decide, and record the outcome in the
queue, the attempt log, the metrics and, when it comes to that, the subscriber's state."""

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

    async def attempt(self, subscriber: Subscriber, delivery: QueuedDelivery) -> None:
        attempt = delivery.attempts + 1
        request = render(subscriber, delivery.event_id, delivery.payload, self.clock())
        result = await self.sender.send(subscriber.url, request)
        now = self.clock()
        decision = decide(result, attempt, self.retry_schedule, now)
        current = await self.store.get(subscriber.id)
        if current is None:
            return
        queue = self.engine.deliveries
        next_at = None
        if decision.retry_in is None:
            await queue.finish(delivery)
        else:
            next_at = now + decision.retry_in
            await queue.retry(replace(delivery, attempts=attempt), next_at)
        record = attempt_record(
            delivery,
            attempt,
            decision.status,
            result.status,
            _error_text(result, decision),
            now,
            None if decision.gone else next_at,
        )
        await queue.record_attempt(subscriber.id, f"{delivery.id}#{attempt}", record)
        self.metrics.deliveries.labels(decision.status).inc()
        await self._track_health(current, decision, now)

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
