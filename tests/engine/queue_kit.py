"""Builders shared by the delivery queue's conformance tests: deliveries with known ids and
sizes, their pending records, and conclusions. Times are explicit numbers, never the clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from gateway.engine.base import Engine
from gateway.engine.deliveries import Conclusion, CursorMove, QueuedDelivery, Record
from gateway.engine.ids import event_id_at

BASE_MS = 1763899200000
LEASE = 45.0
ROOMY = 1000
"""A `max_in_flight` that never binds, for tests about something else."""


def event_id(n: int) -> str:
    return event_id_at(BASE_MS + n)


def delivery(
    n: int,
    subscriber: str = "s1",
    *,
    lane: str | None = None,
    size: int = 2,
    suffix: str = "",
) -> QueuedDelivery:
    payload = b"{" + b" " * max(size - 2, 0) + b"}"
    return QueuedDelivery(
        f"{subscriber}/{event_id(n)}{suffix}", subscriber, event_id(n), payload, lane=lane
    )


def pending(item: QueuedDelivery) -> Record:
    return {"eventId": item.event_id, "attempt": 1, "status": "pending"}


async def enqueue(
    engine: Engine,
    items: Sequence[QueuedDelivery],
    due_at: float = 0.0,
    move: CursorMove | None = None,
) -> int:
    return await engine.deliveries.enqueue(items, due_at, [pending(i) for i in items], move)


async def claim(
    engine: Engine,
    now: float,
    subscriber: str = "s1",
    limit: int = 100,
    *,
    max_in_flight: int = ROOMY,
    rate: float | None = None,
) -> list[QueuedDelivery]:
    return await engine.deliveries.claim(
        subscriber, now, limit, LEASE, max_in_flight=max_in_flight, rate_per_second=rate
    )


def conclusion(
    item: QueuedDelivery,
    outcome: Literal["finish", "retry", "dead"],
    *,
    at: float = 0.0,
    due_at: float | None = None,
    failed: bool | None = None,
) -> Conclusion:
    attempt = item.attempts + 1
    status = {"finish": "succeeded", "retry": "failed", "dead": "dead"}[outcome]
    failing = outcome != "finish" if failed is None else failed
    return Conclusion(
        delivery=replace(item, attempts=attempt),
        outcome=outcome,
        due_at=due_at,
        record_key=f"{item.id}#{attempt}",
        record={"eventId": item.event_id, "attempt": attempt, "status": status},
        failed_at=at if failing else None,
    )


def event_ids(items: Sequence[QueuedDelivery]) -> list[str]:
    return [item.event_id for item in items]
