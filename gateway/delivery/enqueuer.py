"""Filling the delivery queue: the enqueuer loop follows the event log by a cursor kept in
the engine (moved atomically with each batch it enqueues, together with the batch's pending
attempt records, so a restart neither misses nor doubles a delivery, and of several
instances' enqueuers only one enqueues each batch), and replays enqueue a range again for
one subscriber: from the event log and from the subscriber's dead letters, which outlive the
log's history. The subscriber list is re-read only after the registry changed.

Of all the processes sharing an engine, only the one holding the enqueuer's lease runs the
loop's work (`EnqueuerLease`); the others only try for the lease, so they neither read the
log nor the subscribers for it. The lease is what spares them the work, not what makes it
correct: a holder that stalled past its lease and acts once more loses the cursor's
compare-and-set to the process that took over."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import orjson

from gateway.delivery.attempts import pending_record
from gateway.engine.base import Engine, EngineUnavailable
from gateway.engine.deliveries import CursorConflict, CursorMove, DeadLetter, QueuedDelivery
from gateway.engine.events import StoredEvent
from gateway.engine.ids import event_id_ms
from gateway.loops import LoopBody
from gateway.subscribers.model import Subscriber
from gateway.subscribers.store import SubscriberList

log = logging.getLogger("gateway.delivery")

CURSOR_NAME = "delivery-enqueuer"
BATCH_SIZE = 500
WAIT_SECONDS = 1.0
BACKOFF_SECONDS = 1.0


def plan(
    events: Sequence[StoredEvent],
    subscribers: Sequence[Subscriber],
    *,
    live: bool,
    id_suffix: str = "",
) -> list[QueuedDelivery]:
    """One delivery per (event, subscriber) match, in event order. Live deliveries skip
    events stored before the subscriber existed (replay is for those)."""
    planned = []
    for event in events:
        event_ms = event_id_ms(event.id)
        for subscriber in subscribers:
            if not subscriber.wants(event.hub_id, event.type):
                continue
            if live and event_ms < int(subscriber.created_at * 1000):
                continue
            ordered = subscriber.ordered and event.conversation_id is not None
            planned.append(
                QueuedDelivery(
                    id=f"{subscriber.id}/{event.id}{id_suffix}",
                    subscriber_id=subscriber.id,
                    event_id=event.id,
                    payload=event.payload,
                    lane=f"{subscriber.id}/{event.conversation_id}" if ordered else None,
                )
            )
    return planned


async def _enqueue(
    engine: Engine, planned: Sequence[QueuedDelivery], move: CursorMove | None = None
) -> int:
    """One atomic step: the deliveries, their pending records (only where no record exists
    yet: a first attempt may already have written its own) and the cursor's move."""
    now = time.time()
    pending = [pending_record(delivery, now) for delivery in planned]
    return await engine.deliveries.enqueue(planned, now, pending, move)


async def _stored_cursor(engine: Engine) -> str:
    """Where the enqueuers left off. The first one ever starts at the history floor, not at
    the newest event: an event stored while it was starting (a webhook answered as the
    server began to listen) is still delivered, and older events are skipped by `plan`,
    since no subscriber existed before them."""
    stored = await engine.deliveries.cursor(CURSOR_NAME)
    if stored is not None:
        return stored
    start = await engine.events.history_floor()
    await _enqueue(engine, [], CursorMove(CURSOR_NAME, None, start))
    return start


@dataclass
class EnqueuerLease:
    """This process's hold on the enqueuer's lease: renewed once a third of it has passed
    (the loop comes by at least that often), tried for again every third of it
    while another process holds it. Held, as far as this process knows, only until the
    lease would run out counted from before the last renewal was sent."""

    engine: Engine
    seconds: float
    on_change: Callable[[bool], None] = lambda held: None
    _until: float = 0.0
    _renewed: float = float("-inf")
    _reported: bool = False
    _stopped: bool = False

    @property
    def held(self) -> bool:
        return time.monotonic() < self._until

    @property
    def retry_seconds(self) -> float:
        return self.seconds / 3

    async def hold(self) -> bool:
        """Whether this process holds the lease now, renewing or taking it when due."""
        now = time.monotonic()
        if not self._stopped and now - self._renewed >= self.retry_seconds:
            self._renewed = now
            try:
                taken = await self.engine.deliveries.hold_lease(
                    CURSOR_NAME, self.engine.instance_id, self.seconds
                )
            finally:
                self._report()
            self._until = now + self.seconds if taken else 0.0
        self._report()
        return self.held

    def _report(self) -> None:
        held = self.held
        if held != self._reported:
            self._reported = held
            if held:
                log.debug("holding the delivery enqueuer's lease")
            elif not self._stopped:  # Redis out of reach, or this process stalled past it
                log.info("no longer holding the delivery enqueuer's lease")
            self.on_change(held)

    async def release(self) -> None:
        """At shutdown: give the lease up so another process takes it at its next try, and
        never take it again."""
        self._stopped = True
        if self._until:
            self._until = 0.0
            self._report()
            await self.engine.deliveries.release_lease(CURSOR_NAME, self.engine.instance_id)


def enqueuer_loop(
    engine: Engine, on_enqueued: Callable[[], None], lease: EnqueuerLease
) -> LoopBody:
    subscribers = SubscriberList(engine.registry)

    async def run(beat: Callable[[], None]) -> None:
        cursor: str | None = None
        while True:
            beat()
            try:
                if not await lease.hold():
                    cursor = None  # where the holder left off is read again on taking it
                    await asyncio.sleep(min(lease.retry_seconds, WAIT_SECONDS))  # and beat
                    continue
                cursor = cursor or await _stored_cursor(engine)
                wait = min(WAIT_SECONDS, lease.retry_seconds)  # back in time to renew
                events = await engine.events.wait_after(cursor, BATCH_SIZE, wait)
                if not events:
                    continue
                current = await subscribers.current()
                enabled = [s for s in current.values() if s.enabled]
                planned = plan(events, enabled, live=True)
                await _enqueue(engine, planned, CursorMove(CURSOR_NAME, cursor, events[-1].id))
                cursor = events[-1].id
                if planned:
                    on_enqueued()
            except CursorConflict:
                cursor = None
            except EngineUnavailable:
                log.debug("engine unavailable; enqueuer retrying")
                await asyncio.sleep(BACKOFF_SECONDS)

    return run


async def replay(engine: Engine, subscriber: Subscriber, after: str, until: str | None) -> int:
    """Enqueue again every event after `after` (up to `until`, inclusive) that the
    subscriber's filters match, whether still in the event log or only among its dead
    letters; new delivery ids, so they run even beside the originals. Yields to the loop
    after every batch: a long range must not hold up everything else."""
    suffix = "/replay-" + secrets.token_hex(6)
    total = 0
    sources = [engine.events.read_after, _dead_letter_reader(engine, subscriber.id)]
    async for events in _merged(sources, after, until):
        planned = plan(events, [subscriber], live=False, id_suffix=suffix)
        total += await _enqueue(engine, planned)
        await asyncio.sleep(0)
    return total


Reader = Callable[[str, int], Awaitable[list[StoredEvent]]]


def _dead_letter_reader(engine: Engine, subscriber_id: str) -> Reader:
    async def read(cursor: str, limit: int) -> list[StoredEvent]:
        letters = await engine.deliveries.dead_letters(subscriber_id, cursor, limit)
        return [_as_event(letter) for letter in letters]

    return read


def _as_event(letter: DeadLetter) -> StoredEvent:
    activity = orjson.loads(letter.payload)
    conversation = activity.get("conversationId")
    return StoredEvent(
        id=letter.event_id,
        hub_id=str(activity.get("hubId") or ""),
        conversation_id=None if conversation is None else str(conversation),
        type=str(activity.get("type") or ""),
        payload=letter.payload,
    )


async def _merged(
    sources: Sequence[Reader], after: str, until: str | None
) -> AsyncIterator[list[StoredEvent]]:
    """Batches of the events in (after, until] from every source, in id order, each id once.
    A batch goes out only up to the lowest last id among sources not yet read to the end,
    so an id still to come from another source can never be emitted twice."""
    cursors = [after] * len(sources)
    buffers: list[list[StoredEvent]] = [[] for _ in sources]
    finished = [False] * len(sources)
    while True:
        for index, read in enumerate(sources):
            if buffers[index] or finished[index]:
                continue
            batch = await read(cursors[index], BATCH_SIZE)
            in_range = [event for event in batch if until is None or event.id <= until]
            finished[index] = len(batch) < BATCH_SIZE or len(in_range) < len(batch)
            buffers[index] = in_range
            if batch:
                cursors[index] = batch[-1].id
        open_ends = [buffers[i][-1].id for i in range(len(sources)) if not finished[i]]
        bound = min(open_ends, default=None)
        ready: dict[str, StoredEvent] = {}
        for index, buffer in enumerate(buffers):
            taken = [event for event in buffer if bound is None or event.id <= bound]
            buffers[index] = buffer[len(taken) :]
            for event in taken:
                ready.setdefault(event.id, event)
        if ready:
            yield sorted(ready.values(), key=lambda event: event.id)
        if all(finished) and not any(buffers):
            return
