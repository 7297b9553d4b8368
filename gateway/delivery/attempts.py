"""Attempt records as `GET /subscribers/{id}/deliveries` shows them (pure builders)."""

from __future__ import annotations

from typing import Any

from gateway.delivery.outcome import AttemptStatus
from gateway.engine.deliveries import QueuedDelivery
from gateway.times import format_seconds

STATUSES: tuple[AttemptStatus, ...] = ("pending", "succeeded", "failed", "dead")


def pending_record(delivery: QueuedDelivery, due_at: float) -> dict[str, Any]:
    return attempt_record(delivery, 1, "pending", None, None, due_at, due_at)


def attempt_record(
    delivery: QueuedDelivery,
    attempt: int,
    status: AttemptStatus,
    response_status: int | None,
    error: str | None,
    at: float,
    next_attempt_at: float | None,
) -> dict[str, Any]:
    return {
        "eventId": delivery.event_id,
        "attempt": attempt,
        "status": status,
        "responseStatus": response_status,
        "error": error,
        "at": format_seconds(at),
        "nextAttemptAt": None if next_attempt_at is None else format_seconds(next_attempt_at),
    }
