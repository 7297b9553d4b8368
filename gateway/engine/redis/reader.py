"""The one blocking stream reader of a process: `XREAD BLOCK` on a dedicated connection over
the event stream and the presence change feed (one slot, so one command even on Cluster),
waking every local waiter from it. Nothing is read per waiter: the fan-out loop, the
delivery enqueuer and the presence feed of a process all wait on the same read.

Wakes form a chain of futures: each wake names the next one, so a waiter that was busy
while two wakes went by still sees both. The events a read brings go into the process's
recent tail (`tail.py`) before the wake: a waiter whose cursor lies in the tail takes what
follows it from there, without a read of its own, so the fan-out loop and the enqueuer
follow the log by cursor on this one read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from gateway.engine.base import EngineUnavailable
from gateway.engine.events import StoredEvent
from gateway.engine.ids import event_id_at
from gateway.engine.redis.connection import Client, Health, describe, is_unavailable
from gateway.engine.redis.keys import Keys
from gateway.engine.redis.tail import RecentTail, StreamId

log = logging.getLogger("gateway.redis")

BLOCK_MS = 2000
COUNT = 1000
BACKOFF_SECONDS = (0.1, 0.25, 0.5, 1.0)
CLOSE_WAIT_SECONDS = 2.0


def parse_stream_id(raw: bytes | str) -> StreamId:
    """`ms-seq` as integers; a bare `ms` is `ms-0` (so a cursor "0" is before everything).
    ValueError for anything else."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    if not ms.isdigit() or not (seq.isdigit() or seq == ""):
        raise ValueError(f"not a stream id: {text!r}")
    return int(ms), int(seq or 0)


def event_from_entry(raw_id: bytes, fields: dict[bytes, bytes]) -> StoredEvent:
    """A stream entry as the event it stores (see `log_append.lua` for the fields)."""
    ms, seq = parse_stream_id(raw_id)
    conversation = fields[b"c"]
    return StoredEvent(
        id=event_id_at(ms, seq),
        hub_id=fields[b"h"].decode(),
        conversation_id=conversation[1:].decode() if conversation else None,
        type=fields[b"t"].decode(),
        payload=fields[b"p"],
    )


@dataclass(frozen=True)
class Wake:
    """What one read brought. `events` is True when events arrived (they are in the tail);
    `roster` is True when the presence feed moved (or may have: after a start or a
    reconnect); `error` is set when the reader lost Redis."""

    next: asyncio.Future[Wake]
    events: bool = False
    roster: bool = False
    error: EngineUnavailable | None = None


async def next_wake(pending: asyncio.Future[Wake], deadline: float) -> Wake | None:
    """The wake `pending` brings, or None when `deadline` (loop time) passes first."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        return None
    try:
        return await asyncio.wait_for(asyncio.shield(pending), remaining)
    except TimeoutError:
        return None


def _cancelled() -> bool:
    """A cancellation redis-py may have lost (see `connection._raise_if_cancelled`)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@dataclass
class BlockingReader:
    client: Client
    keys: Keys
    health: Health
    _pending: asyncio.Future[Wake] | None = None
    _task: asyncio.Task[None] | None = None
    _tips: dict[str, StreamId] = field(default_factory=dict)
    tail: RecentTail = field(default_factory=RecentTail)
    _closing: bool = False
    _behind_seconds: float = 0.0
    _failing_since: float | None = None

    def pending(self) -> asyncio.Future[Wake]:
        """The next wake; starts the reader on first use. Take it before reading, then
        await it: nothing written after the read can be missed."""
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_future()
        if self._task is None and not self._closing:
            self._task = asyncio.create_task(self._run(), name="redis-stream-reader")
        return self._pending

    def lag_seconds(self) -> float:
        """How far behind the log this process reads: the age of the oldest event of the
        last read that brought any (0 once a read finds nothing new); while reads fail,
        at least the time since they started failing."""
        if self._failing_since is not None:
            return max(self._behind_seconds, time.time() - self._failing_since)
        return self._behind_seconds

    def _wake(self, **what: object) -> None:
        current = self.pending()
        following: asyncio.Future[Wake] = asyncio.get_running_loop().create_future()
        self._pending = following
        current.set_result(Wake(next=following, **what))  # type: ignore[arg-type]

    async def _start_tips(self) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xrevrange(self.keys.events, count=1)
            pipe.xrevrange(self.keys.roster, count=1)
            last_event, last_change = await pipe.execute()
        self._tips = {
            self.keys.events: parse_stream_id(last_event[0][0]) if last_event else (0, 0),
            self.keys.roster: parse_stream_id(last_change[0][0]) if last_change else (0, 0),
        }
        self.tail.restart(self._tips[self.keys.events])

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                if not self._tips:
                    await self._start_tips()
                    self._failing_since = None
                    self._wake(roster=True)
                streams = {key: f"{ms}-{seq}" for key, (ms, seq) in self._tips.items()}
                since = self.health.errors
                reply: Any = await self.client.xread(streams, count=COUNT, block=BLOCK_MS)  # type: ignore[arg-type]
            except Exception as exc:
                if self._closing or _cancelled():
                    return
                if not is_unavailable(exc):
                    log.exception("redis stream reader failed")
                failures += 1
                if self._failing_since is None:
                    self._failing_since = time.time()
                self.health.failed(exc)
                self._tips = {}
                self._wake(error=EngineUnavailable(f"redis: {describe(exc)}"))
                await asyncio.sleep(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1])
                continue
            if _cancelled():
                return
            failures = 0
            self._failing_since = None
            self.health.answered(since)
            self._behind_seconds = 0.0
            if reply:
                self._deliver(reply)

    def _deliver(self, reply: list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]) -> None:
        events = roster = False
        for raw_key, entries in reply:
            key = raw_key.decode()
            if not entries:
                continue
            if key == self.keys.events:
                ids = [parse_stream_id(raw_id) for raw_id, _ in entries]
                stored = [event_from_entry(raw_id, fields) for raw_id, fields in entries]
                self.tail.extend(self._tips[key], ids, stored)
                self._behind_seconds = max(0.0, time.time() - ids[0][0] / 1000)
                events = True
                self._tips[key] = ids[-1]
            else:
                roster = True
                self._tips[key] = parse_stream_id(entries[-1][0])
        self._wake(events=events, roster=roster)

    async def close(self) -> None:
        """Stop reading. The connection is closed under the blocked `XREAD` (a cancelled
        read inside redis-py does not reliably end the task), then the task is awaited."""
        self._closing = True
        task, self._task = self._task, None
        await self.client.aclose()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, CLOSE_WAIT_SECONDS)
