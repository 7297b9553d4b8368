"""Filling the delivery queue: the enqueuer loop follows the event log by a cursor kept in
the engine (moved atomically with each batch it enqueues, so a restart neither misses nor
doubles a delivery, and of several instances' enqueuers only one enqueues each batch), and
replays enqueue a range of the log again for one subscriber."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence

from gateway.delivery.attempts import pending_record
from gateway.engine.base import Engine, EngineUnavailable
from gateway.engine.deliveries import CursorConflict, CursorMove, QueuedDelivery
from gateway.engine.events import StoredEvent, event_id_ms
from gateway.loops import LoopBody
from gateway.subscribers.model import Subscriber
from gateway.subscribers.store import SubscriberStore

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


async def _note_pending(engine: Engine, deliveries: Sequence[QueuedDelivery], now: float) -> None:
    """Only where no record exists yet: a first attempt may already have written its own."""
    for delivery in deliveries:
        await engine.deliveries.record_attempt(
            delivery.subscriber_id,
            f"{delivery.id}#1",
            pending_record(delivery, now),
            only_new=True,
        )


async def _stored_cursor(engine: Engine) -> str:
    """Where the enqueuers left off; the first one ever starts at the newest event."""
    stored = await engine.deliveries.cursor(CURSOR_NAME)
    if stored is not None:
        return stored
    start = await engine.events.last_id()
    await engine.deliveries.enqueue([], time.time(), CursorMove(CURSOR_NAME, None, start))
    return start


def enqueuer_loop(engine: Engine, on_enqueued: Callable[[], None]) -> LoopBody:
    store = SubscriberStore(engine.registry)

    async def run(beat: Callable[[], None]) -> None:
        cursor: str | None = None
        while True:
            beat()
            try:
                cursor = cursor or await _stored_cursor(engine)
                events = await engine.events.wait_after(cursor, BATCH_SIZE, WAIT_SECONDS)
                if not events:
                    continue
                enabled = [s for s in await store.list() if s.enabled]
                planned = plan(events, enabled, live=True)
                now = time.time()
                move = CursorMove(CURSOR_NAME, cursor, events[-1].id)
                await engine.deliveries.enqueue(planned, now, move)
                cursor = events[-1].id
                await _note_pending(engine, planned, now)
                if planned:
                    on_enqueued()
            except CursorConflict:
                cursor = None
            except EngineUnavailable:
                log.warning("engine unavailable; enqueuer retrying")
                await asyncio.sleep(BACKOFF_SECONDS)

    return run


async def replay(engine: Engine, subscriber: Subscriber, after: str, until: str | None) -> int:
    """Enqueue again every stored event after `after` (up to `until`, inclusive) that the
    subscriber's filters match; new delivery ids, so they run even beside the originals."""
    suffix = "/replay-" + secrets.token_hex(6)
    cursor, total = after, 0
    while True:
        events = await engine.events.read_after(cursor, BATCH_SIZE)
        in_range = [event for event in events if until is None or event.id <= until]
        planned = plan(in_range, [subscriber], live=False, id_suffix=suffix)
        now = time.time()
        total += await engine.deliveries.enqueue(planned, now)
        await _note_pending(engine, planned, now)
        if len(in_range) < BATCH_SIZE:
            return total
        cursor = in_range[-1].id
