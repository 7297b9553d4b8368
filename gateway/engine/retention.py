"""The retention loop: trims the event log and dedup keys past `GATEWAY_HISTORY_SECONDS`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gateway.engine.base import Engine, EngineUnavailable
from gateway.loops import LoopBody

log = logging.getLogger("gateway.retention")

TRIM_INTERVAL_SECONDS = 5.0


def retention_loop(engine: Engine, history_seconds: float) -> LoopBody:
    async def run(beat: Callable[[], None]) -> None:
        while True:
            beat()
            cutoff_ms = int((time.time() - history_seconds) * 1000)
            try:
                trimmed = await engine.events.trim(cutoff_ms)
            except EngineUnavailable:
                log.warning("engine unavailable; history not trimmed this round")
            else:
                if trimmed:
                    log.debug("trimmed %d events", trimmed)
            await asyncio.sleep(TRIM_INTERVAL_SECONDS)

    return run
