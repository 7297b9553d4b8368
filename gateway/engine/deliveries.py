"""The delivery queue's interface: subscriber deliveries held until they succeed or die.

Designed for Redis: per subscriber a sorted set of delivery ids scored by the time each
becomes visible (due time, or lease expiry once claimed), a hash of encoded records, a set
of subscribers by earliest visible time, one sorted set per ordered lane (subscriber and
conversation) of which only the head is ever visible, and capped attempt logs. Claiming
moves a delivery's score to the lease expiry, so a delivery held by a process that died
becomes visible again by itself (the visibility timeout).

Dead deliveries are kept for replay, per subscriber, in a capped dead-letter store: a hash
of encoded letters by event id and a sorted set of event ids scored by their millisecond
(ties order by member, so by id), from which ranges are read and the oldest are trimmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """One event owed to one subscriber. `payload` is the stored event's bytes (kept here so
    a retry outlives the event log's history); `attempts` counts attempts already made;
    `lane` (ordered subscribers only) names the conversation lane it waits in."""

    id: str
    subscriber_id: str
    event_id: str
    payload: bytes
    attempts: int = 0
    lane: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery that died: the event's bytes (the event log may have dropped them by now)
    and its last attempt record, kept until replayed successfully or pushed out by the cap."""

    event_id: str
    payload: bytes
    record: Record


@dataclass(frozen=True, slots=True)
class CursorMove:
    """Move the named cursor from `expected` (None: never set) to `to`."""

    name: str
    expected: str | None
    to: str


class CursorConflict(Exception):
    """The cursor was not where the mover expected: another reader moved it first."""


class DeliveryQueue(Protocol):
    async def enqueue(
        self,
        deliveries: Sequence[QueuedDelivery],
        due_at: float,
        move: CursorMove | None = None,
    ) -> int:
        """Add the deliveries whose ids are new, visible at `due_at` (a lane's later entries
        wait for its head), and with `move` also move that cursor, all atomically: a reader
        that crashed re-enqueues nothing and misses nothing, and of several readers racing
        on one cursor only one enqueues a batch (the others get `CursorConflict` and
        nothing is changed). Returns how many deliveries were new."""
        ...

    async def cursor(self, name: str) -> str | None: ...

    async def due_subscribers(self, now: float) -> list[str]:
        """Subscribers with at least one delivery visible at `now`."""
        ...

    async def claim(
        self, subscriber_id: str, now: float, limit: int, lease_seconds: float
    ) -> list[QueuedDelivery]:
        """Up to `limit` visible deliveries of the subscriber, earliest due first, hidden
        for `lease_seconds` (another process takes them over if the lease runs out)."""
        ...

    async def retry(self, delivery: QueuedDelivery, due_at: float) -> None:
        """Store the delivery (its attempts updated) and make it visible again at `due_at`."""
        ...

    async def finish(self, delivery: QueuedDelivery) -> None:
        """Forget the delivery (it succeeded); the next in its lane becomes visible, and the
        subscriber's dead letter for the same event, if any, is resolved (removed)."""
        ...

    async def bury(self, delivery: QueuedDelivery, record: Record) -> None:
        """The delivery is dead: forget it like `finish`, and keep it as the subscriber's dead
        letter for its event (replacing an older one), with `record`, its last attempt. Only
        the newest `DEAD_LETTER_SIZE` events' letters of a subscriber are kept."""
        ...

    async def dead_letters(self, subscriber_id: str, after: str, limit: int) -> list[DeadLetter]:
        """Up to `limit` of the subscriber's dead letters with event ids above `after`,
        oldest event first."""
        ...

    async def release(self, deliveries: Sequence[QueuedDelivery], now: float) -> None:
        """Hand claimed deliveries back, visible at once (shutdown)."""
        ...

    async def drop_subscriber(self, subscriber_id: str) -> None:
        """Forget every delivery, lane, attempt record, dead letter and failure mark of the
        subscriber."""
        ...

    async def depth(self) -> int:
        """Deliveries held, claimed or not."""
        ...

    async def record_attempt(
        self, subscriber_id: str, key: str, record: Record, *, only_new: bool = False
    ) -> None:
        """Insert (newest first) or update in place the attempt record under `key`, keeping
        only the newest `ATTEMPT_LOG_SIZE` records of the subscriber. With `only_new`, an
        existing record is left alone (a late `pending` never hides an outcome)."""
        ...

    async def attempts(self, subscriber_id: str) -> list[Record]:
        """The subscriber's attempt records, newest first."""
        ...

    async def mark_failing(self, subscriber_id: str, now: float) -> float:
        """Note a failure; return when the subscriber's current run of failures began."""
        ...

    async def clear_failing(self, subscriber_id: str) -> None:
        """A delivery succeeded: the run of failures is over."""
        ...


ATTEMPT_LOG_SIZE = 1000
DEAD_LETTER_SIZE = 10_000
