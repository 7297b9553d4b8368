"""Resume: replay the stored events a session may see after its `lastEventId`, then go live.

The session is registered for live events (parked) before the replay starts, so an event
stored at any moment is either read here or arrives live; `finish_replay` drops the live
copies of what was replayed.
"""

from __future__ import annotations

from gateway.engine.events import EventLog
from gateway.ws.frames import event_frame, server_frame
from gateway.ws.session import Session

REPLAY_BATCH = 200


async def replay(session: Session, events: EventLog, last_event_id: str, limit_bytes: int) -> None:
    outbox = session.outbox
    if last_event_id < await events.history_floor():
        outbox.offer(server_frame("recovered", recovered=False, count=0))
        session.finish_replay(None)
        return
    cursor = last_event_id
    count = 0
    while outbox.open:
        batch = await events.read_after(cursor, REPLAY_BATCH)
        if not batch:
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
