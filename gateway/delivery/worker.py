"""One delivery attempt, start to finish: render and send, then decide the outcome and apply
it with one `conclude` (queue move, attempt record and failure mark in one atomic step), then
count it and, when it comes to that, disable the subscriber.

The two halves are separate so the dispatcher can turn a send that raised into a failed
attempt. A subscriber deleted while its attempt was in flight has been dropped from the
queue, and `conclude` then writes nothing, so no record, failure mark or dead letter of it
outlives it.

Disabling writes to two stores that no step spans: the queue (park: claim nothing more of
the subscriber) and the registry (`enabled: false`, by compare-and-set). Parking comes
first, so no attempt starts between the decision and the disable; the enable route writes
the other way round (enable, then unpark). How the two always come to agree:
- any interleaving with an enable ends enabled and unparked, or disabled and parked, or
  disabled but unparked, which the dispatcher parks as soon as it is due (it claims
  nothing of a disabled subscriber);
- a failure between the writes (the engine unreachable, a compare-and-set losing every
  try, a 410's `conclude` failing after its park, an enable's unpark failing) leaves it
  parked while its record says enabled: the dispatcher's reconcile pass unparks it within
  `RECONCILE_SECONDS` (and drops the queue of one parked without a record).
The registry is the truth; the queue follows it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from gateway.delivery.attempts import attempt_record
from gateway.delivery.formats import render
from gateway.delivery.outcome import Decision, SendResult, decide
from gateway.delivery.sender import HttpSender
from gateway.engine.base import Engine
from gateway.engine.deliveries import Conclusion, QueuedDelivery
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
        """Count the attempt: finish, retry or bury the delivery with its record and the
        subscriber's failure mark in one step, so whatever fails after it, the attempt is
        counted and the delivery cannot repeat without end."""
        attempt = delivery.attempts + 1
        now = self.clock()
        decision = decide(result, attempt, self.retry_schedule, now)
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
        if decision.gone:
            await self.engine.deliveries.park(subscriber.id)  # not retried meanwhile
        concluded = await self.engine.deliveries.conclude(
            Conclusion(
                delivery=replace(delivery, attempts=attempt),
                outcome=_outcome(decision, next_at),
                due_at=next_at,
                record_key=f"{delivery.id}#{attempt}",
                record=record,
                failed_at=None if decision.status == "succeeded" else now,
            )
        )
        if not concluded.applied:
            return
        self.metrics.deliveries.labels(decision.status).inc()
        if decision.gone:
            await self._disable(subscriber.id, "gone")
        elif _failing_too_long(concluded.failing_since, now, subscriber):
            await self._disable(subscriber.id, "failing")

    async def _disable(self, subscriber_id: str, reason: DisabledReason) -> None:
        """Park first, then disable by compare-and-set. Should the second write fail, or
        an `enable` land between the two, the dispatcher's reconcile pass unparks the
        subscriber its record says is enabled (the module docstring has the whole case)."""
        queue = self.engine.deliveries
        await queue.park(subscriber_id)

        changed = False

        def disabled(current: Subscriber) -> Subscriber | None:
            nonlocal changed
            changed = current.enabled
            return replace(current, enabled=False, disabled_reason=reason) if changed else None

        if await self.store.update(subscriber_id, disabled) is None:
            await queue.drop_subscriber(subscriber_id)  # deleted meanwhile: leave no mark
        elif changed:
            log.warning("subscriber %s disabled (%s)", subscriber_id, reason)


def _failing_too_long(since: float | None, now: float, subscriber: Subscriber) -> bool:
    return since is not None and now - since >= subscriber.disable_after_seconds


def _outcome(decision: Decision, next_at: float | None) -> Literal["finish", "retry", "dead"]:
    if decision.status == "dead":
        return "dead"
    return "finish" if next_at is None else "retry"


def _error_text(result: SendResult, decision: Decision) -> str | None:
    if decision.gone:
        return "410 Gone: the subscriber is disabled until enabled again"
    return result.error
