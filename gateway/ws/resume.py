"""Resume: replay the stored events a session may see after its `lastEventId`, then go live.

The session is registered for live events (parked) before the replay starts, so an event
stored at any moment is either read here or arrives live; `finish_replay` drops the live
copies of what was replayed. Parking is capped (see `Outbox`): the replay goes live only
after a read from the store finds nothing new and no parked frame was dropped since that
read began, so every event after the last one replayed is still parked.

A `lastEventId` newer than anything stored cannot be honoured (live events up to it would
be skipped): `recovered: false` and the session goes live from where the store is.

A first connection may ask for its recent history instead (`historySeconds`, `historyLimit`
in the `auth` frame): `history_cursor` finds where the newest `limit` events of that window
the session may see begin, and the replay runs from there like any resume.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from gateway.engine.events import EventLog
from gateway.engine.ids import event_id_at
from gateway.ws.frames import event_frame, server_frame
from gateway.ws.session import Session

REPLAY_BATCH = 200


async def replay(session: Session, events: EventLog, last_event_id: str, limit_bytes: int) -> None:
    outbox = session.outbox
    if last_event_id < await events.history_floor() or last_event_id > await events.last_id():
        outbox.offer(server_frame("recovered", recovered=False, count=0))
        session.finish_replay(None)
        return
    cursor = last_event_id
    count = 0
    while outbox.open:
        outbox.parked_dropped = False
        batch = await events.read_after(cursor, REPLAY_BATCH)
        if not batch:
            await outbox.drained(below_bytes=limit_bytes // 4)
            if outbox.parked_dropped:
                continue
            break
        for event in batch:
            cursor = event.id
            if not session.scope.sees(event):
                continue
            if outbox.backlog_bytes() > limit_bytes // 2:
                await outbox.drained(below_bytes=limit_bytes // 4)
            outbox.offer(event_frame(event.payload))
            count += 1
    outbox.offer(server_frame("recovered", recovered=True, count=count))
    session.finish_replay(cursor)


@dataclass(frozen=True, slots=True)
class RecentHistory:
    seconds: float
    limit: int


async def history_cursor(
    session: Session, events: EventLog, history: RecentHistory, now_ms: int
) -> str:
    """The cursor to replay `history` from: just before the oldest of the newest
    `history.limit` events of the window the session may see, never below the history floor
    nor above the newest id (either would make the replay report `recovered: false`).

    Called once the session is parked for live events, like `replay`: an event stored while
    this scans is either scanned or parked, and the replay reads it again from the store.
    The scan reads the window once; memory stays bounded by `limit` ids."""
    window_start = event_id_at(max(0, now_ms - int(history.seconds * 1000)))
    cursor = min(max(window_start, await events.history_floor()), await events.last_id())
    starts: deque[str] = deque(maxlen=history.limit)
    while batch := await events.read_after(cursor, REPLAY_BATCH):
        for event in batch:
            if session.scope.sees(event):
                starts.append(cursor)
            cursor = event.id
    return starts[0] if starts else cursor
