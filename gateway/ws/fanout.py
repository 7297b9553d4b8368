"""The fan-out loop: one per process, reading the event log by cursor and routing each event
to the local sessions of its hub. It never awaits a socket: slow sessions cannot hold it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.engine.base import EngineUnavailable
from gateway.engine.events import EventLog
from gateway.loops import LoopBody
from gateway.ws.router import SessionRouter

log = logging.getLogger("gateway.fanout")

BATCH_SIZE = 500
RUN_SIZE = 32
"""Events routed between yields to the event loop: long enough to write each session's
share at once, short enough that ingest and other sessions are not held up."""
WAIT_SECONDS = 1.0
BACKOFF_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)


def fanout_loop(events: EventLog, router: SessionRouter) -> LoopBody:
    async def run(beat: Callable[[], None]) -> None:
        cursor: str | None = None
        failures = 0
        while True:
            beat()
            try:
                if cursor is None:
                    cursor = await events.last_id()
                    router.start_at(cursor)
                batch = await events.wait_after(cursor, BATCH_SIZE, WAIT_SECONDS)
            except EngineUnavailable:
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                log.warning("engine unavailable; fan-out retries in %.1fs", delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for start in range(0, len(batch), RUN_SIZE):
                router.publish(batch[start : start + RUN_SIZE])
                await asyncio.sleep(0)
            if batch:
                cursor = batch[-1].id

    return run
