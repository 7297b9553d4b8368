"""The delivery queue's interface: subscriber deliveries held until they succeed or die.

Designed for Redis: per subscriber a sorted set of delivery ids scored by the time each
becomes visible (due time, or lease expiry once claimed), a hash of encoded records, a set
of subscribers by earliest visible time, one sorted set per ordered lane (subscriber and
conversation) of which only the head is ever visible, and capped attempt logs. Claiming
moves a delivery's score to the lease expiry, so a delivery held by a process that died
becomes visible again by itself (the visibility timeout).

Limits that must hold across every process live here, not in a process: a subscriber's
deliveries in flight (`max_in_flight`) and its rate (`rate_per_second`) are checked by
`claim` against what every process holds.

Dead deliveries are kept for replay, per subscriber, in a capped dead-letter store: a hash
of encoded letters by event id and a sorted set of event ids scored by their millisecond
(ties order by member, so by id), from which ranges are read and the oldest are trimmed.

Bytes are bounded per subscriber (`QueueLimits`): past the queued cap the oldest queued
delivery becomes dead; past the dead cap the oldest dead letter goes. A parked subscriber
(disabled) keeps its deliveries within those caps but is never due until unparked.

"The oldest queued delivery" is the one enqueued first among those not claimed under an
unexpired lease (one in flight concludes as usual). It dies with its latest attempt record
(`{id}#{attempts}`, or the pending `{id}#1`) turned dead by `overflowed_record`, written in
place in the attempt log and kept as its dead letter's record.

Every method is one atomic step of the engine (one Lua script on Redis).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from gateway.times import format_seconds

Record = dict[str, Any]

OVERFLOW_ERROR = "dropped: the subscriber's queued deliveries passed their byte cap"


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """Per-subscriber bounds, fixed when the engine is made."""

    max_queued_bytes: int = 64 * 1024 * 1024
    max_dead_bytes: int = 64 * 1024 * 1024
    max_dead_letters: int = 10_000
    attempt_log_size: int = 1000


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """One event owed to one subscriber. `payload` is the stored event's bytes (kept here so
    a retry outlives the event log's history); `attempts` counts attempts already made;
    `lane` (ordered subscribers only) names the conversation lane it waits in. `claim` is
    the token of the claim that returned it ('' before any): `conclude` and `release`
    apply only while that claim is the delivery's latest, so a holder whose lease ran out
    and was taken over can no longer change it (see `DeliveryQueue.claim`)."""

    id: str
    subscriber_id: str
    event_id: str
    payload: bytes
    attempts: int = 0
    lane: str | None = None
    claim: str = field(default="", compare=False)


def overflowed_record(latest: Record | None, delivery: QueuedDelivery, at: float) -> Record:
    """The attempt record of a delivery the queued-bytes cap turned dead: its latest record
    marked dead, or (the log no longer has it) a record of its attempts so far. `at` is the
    enqueue's `due_at`, formatted here so that every engine writes the same record."""
    base = latest or {
        "eventId": delivery.event_id,
        "attempt": max(delivery.attempts, 1),
        "responseStatus": None,
        "at": format_seconds(at),
    }
    return {**base, "status": "dead", "error": OVERFLOW_ERROR, "nextAttemptAt": None}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery that died: the event's bytes (the event log may have dropped them by now)
    and its last attempt record, kept until replayed successfully or pushed out by a cap."""

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


@dataclass(frozen=True, slots=True)
class Conclusion:
    """What one attempt decided, applied by `conclude` as one atomic step.

    `delivery.attempts` already counts this attempt. `outcome` is `finish` (it succeeded,
    or the subscriber is gone: forget it; the next in its lane becomes visible; a dead
    letter of the same event is resolved), `retry` (store it, visible again at `due_at`)
    or `dead` (forget it like `finish` and keep it as the subscriber's dead letter for its
    event, replacing an older one, with `record`). `record` is written to the attempt log
    under `record_key` (newest first, in place when the key exists). `failed_at` notes a
    failure of the subscriber at that time; None clears its run of failures."""

    delivery: QueuedDelivery
    outcome: Literal["finish", "retry", "dead"]
    due_at: float | None
    record_key: str
    record: Record
    failed_at: float | None


@dataclass(frozen=True, slots=True)
class Concluded:
    """`applied` is False when nothing was written: the delivery is no longer held (its
    subscriber was dropped meanwhile, or it was concluded already), or it was claimed
    again since the claim concluding it (that lease ran out and another process took it
    over; the new holder's lease, the in-flight count and its lane are left alone).
    `failing_since` is when the subscriber's current run of failures began (None after a
    success)."""

    applied: bool
    failing_since: float | None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """`depth` counts deliveries held, claimed or not; `oldest_due_seconds` is how long the
    longest-waiting visible delivery of an unparked subscriber has been due (0 when none).
    The two totals count since the engine's data began: queued deliveries turned dead by
    the queued cap, and dead letters dropped by either dead-letter cap."""

    depth: int
    queued_bytes: int
    dead_bytes: int
    oldest_due_seconds: float
    overflowed_total: int
    dead_dropped_total: int


class DeliveryQueue(Protocol):
    async def enqueue(
        self,
        deliveries: Sequence[QueuedDelivery],
        due_at: float,
        pending: Sequence[Record],
        move: CursorMove | None = None,
    ) -> int:
        """Add the deliveries whose ids are new, visible at `due_at` (a lane's later entries
        wait for its head), write `pending[i]` as the attempt record `{id}#1` of each new
        `deliveries[i]` unless that key has a record already, and with `move` also move that
        cursor, all atomically: a reader that crashed re-enqueues nothing and misses
        nothing, and of several readers racing on one cursor only one enqueues a batch (the
        others get `CursorConflict` and nothing is changed). Applies the queued-bytes cap.
        Returns how many deliveries were new."""
        ...

    async def cursor(self, name: str) -> str | None: ...

    async def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take the lease `name` for `holder` when no one holds it (or its holder let it run
        out), or extend it when `holder` holds it: True when `holder` now holds it for
        `seconds`, False when another does. Work that one process at a time should do
        (the enqueuer's) goes to the holder; correctness never rests on it alone (a holder
        paused past its lease may still act once: the enqueuer's cursor compare-and-set
        rejects that)."""
        ...

    async def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up if `holder` holds it, so another process takes it at once."""
        ...

    async def due_subscribers(self, now: float) -> list[str]:
        """Unparked subscribers with at least one delivery visible at `now`."""
        ...

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
        """Up to `limit` visible deliveries of the subscriber, earliest due first, hidden
        for `lease_seconds` (another process takes them over if the lease runs out). Never
        more than `max_in_flight` claimed and unexpired across every process, nor more than
        `rate_per_second` claims per second (a bucket holding one second's worth, at least
        one) across every process. Each delivery comes back with a fresh `claim` token,
        unique across processes; leases run on the callers' clocks (`now`), so hosts must
        agree on the time to well within the lease's margin."""
        ...

    async def conclude(self, conclusion: Conclusion) -> Concluded:
        """Apply the conclusion if `conclusion.delivery.claim` is still the delivery's latest
        claim (or it was never claimed and the token is ''); else `applied=False`."""
        ...

    async def release(self, deliveries: Sequence[QueuedDelivery], now: float) -> None:
        """Hand claimed deliveries back, visible at once (shutdown); each only while its
        `claim` is still the latest."""
        ...

    async def park(self, subscriber_id: str) -> None:
        """The subscriber is disabled: keep its deliveries (enqueue still adds to them),
        never report it due, and claim nothing of it."""
        ...

    async def unpark(self, subscriber_id: str, now: float) -> None:
        """Enabled again: its held deliveries not in flight are visible from `now` (their
        retry times are not waited out), and its run of failures is over (the failure
        mark is cleared, so the first failure after enabling does not disable it again)."""
        ...

    async def parked(self) -> list[str]:
        """Every parked subscriber, in no order (a plain read): what the dispatcher checks
        against the registry, so that a subscriber parked but enabled does not stay so."""
        ...

    async def dead_letters(self, subscriber_id: str, after: str, limit: int) -> list[DeadLetter]:
        """Up to `limit` of the subscriber's dead letters with event ids above `after`,
        oldest event first."""
        ...

    async def attempts(self, subscriber_id: str) -> list[Record]:
        """The subscriber's attempt records, newest first."""
        ...

    async def drop_subscriber(self, subscriber_id: str) -> None:
        """Forget every delivery, lane, attempt record, dead letter, failure mark and limit
        of the subscriber. A `conclude` of one of its deliveries afterwards writes nothing."""
        ...

    async def stats(self, now: float) -> QueueStats: ...
