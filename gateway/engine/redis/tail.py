"""The recent tail of the event log, as this process's stream reader read it: every event
in `(after, tip]`, with no gap, bounded in events and bytes.

It is what lets a process follow the log once. The reader appends each batch it reads;
the fan-out loop and the delivery enqueuer then take what follows their cursors from here
instead of reading every event from Redis again (by cursor, as before: a consumer holds a
cursor, never a callback). A cursor outside the tail, one behind it (a replay, a consumer
that fell back) or ahead of it (an id the reader has not reached yet), is read from Redis.

What the tail holds is only ever a prefix of what Redis holds after a cursor: events
newer than `tip` may be stored already and not read yet. `wait_after` may answer with such
a prefix (the next wake brings the rest); `read_after` answers from the tail only when the
tail fills the whole page, and otherwise reads Redis, so its answer is exactly what was
stored when it was called.

Events are frozen dataclasses holding the same payload bytes Redis returned: consumers
share them, and never change them.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from gateway.engine.events import StoredEvent

StreamId = tuple[int, int]

MAX_EVENTS = 4096
MAX_BYTES = 16 << 20
"""Enough for the consumers at the tip to be served across a burst, small beside the log:
at 1 KB events 4096 of them are ~4 MiB; large payloads are held to 16 MiB."""


class RecentTail:
    def __init__(self, max_events: int = MAX_EVENTS, max_bytes: int = MAX_BYTES) -> None:
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._after: StreamId | None = None
        self._tip: StreamId = (0, 0)
        self._ids: list[StreamId] = []
        self._events: list[StoredEvent] = []
        self._start = 0
        self._bytes = 0

    def restart(self, at: StreamId | None) -> None:
        """Hold nothing, from stream id `at` on (None: nothing at all, until the next
        `restart`): after a reconnect the reader starts again at the stream's newest id,
        and what came in between is not here."""
        self._after = at
        self._tip = at or (0, 0)
        self._ids, self._events, self._start, self._bytes = [], [], 0, 0

    def extend(
        self, after: StreamId, ids: Sequence[StreamId], events: Sequence[StoredEvent]
    ) -> None:
        """Events the reader read, following stream id `after` with no gap."""
        if self._after is None or after != self._tip:
            self.restart(after)
        self._ids.extend(ids)
        self._events.extend(events)
        self._bytes += sum(len(event.payload) for event in events)
        if ids:
            self._tip = ids[-1]
        self._bound()

    def _bound(self) -> None:
        start, end = self._start, len(self._ids)
        while start < end and (end - start > self._max_events or self._bytes > self._max_bytes):
            self._bytes -= len(self._events[start].payload)
            start += 1
        if start > self._start:
            self._after = self._ids[start - 1]
            self._start = start
        if start > len(self._ids) // 2:
            del self._ids[:start], self._events[:start]
            self._start = 0

    def following(self, cursor: StreamId, limit: int) -> list[StoredEvent] | None:
        """Up to `limit` events after `cursor` held here, or None when the cursor lies
        outside `[after, tip]` (the tail cannot say what follows it)."""
        if self._after is None or cursor < self._after or cursor > self._tip:
            return None
        first = bisect.bisect_right(self._ids, cursor, lo=self._start)
        return self._events[first : first + limit]

    def page(self, cursor: StreamId, limit: int) -> list[StoredEvent] | None:
        """A whole page of `limit` events after `cursor`, or None: a shorter answer may miss
        events stored after `tip`."""
        events = self.following(cursor, limit)
        return events if events is not None and len(events) == limit else None
