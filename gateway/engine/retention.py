"""The retention loop: keeps the event log within `GATEWAY_HISTORY_SECONDS` and
`GATEWAY_HISTORY_MAX_BYTES` (dedup keys expire on their own window), and refreshes the
engine's gauges in `/metrics`, so that a scrape never costs an engine round trip."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gateway.engine.base import Engine, EngineUnavailable
from gateway.loops import LoopBody
from gateway.metrics import Metrics

log = logging.getLogger("gateway.retention")

TRIM_INTERVAL_SECONDS = 5.0
GAUGE_INTERVAL_SECONDS = 1.0


def count_engine_stats(engine: Engine, metrics: Metrics, errors_counted: int) -> int:
    """The engine's own readings (no I/O, so they move during an outage too); returns the
    errors counted so far."""
    stats = engine.stats()
    metrics.redis_errors.inc(max(0, stats.errors - errors_counted))
    metrics.redis_reader_lag.set(stats.reader_lag_seconds)
    return max(errors_counted, stats.errors)


async def refresh_gauges(engine: Engine, metrics: Metrics) -> None:
    size = await engine.events.size()
    stats = await engine.deliveries.stats(time.time())
    metrics.event_log_events.set(size.events)
    metrics.event_log_bytes.set(size.bytes)
    metrics.delivery_queue_depth.set(stats.depth)
    metrics.delivery_queued_bytes.set(stats.queued_bytes)
    metrics.delivery_dead_bytes.set(stats.dead_bytes)
    metrics.delivery_oldest_due.set(stats.oldest_due_seconds)
    metrics.delivery_overflowed.set(stats.overflowed_total)
    metrics.dead_letters_dropped.set(stats.dead_dropped_total)


def retention_loop(
    engine: Engine, metrics: Metrics, history_seconds: float, history_max_bytes: int
) -> LoopBody:
    async def run(beat: Callable[[], None]) -> None:
        next_trim = 0.0
        errors_counted = 0
        while True:
            beat()
            errors_counted = count_engine_stats(engine, metrics, errors_counted)
            try:
                if time.monotonic() >= next_trim:
                    next_trim = time.monotonic() + TRIM_INTERVAL_SECONDS
                    cutoff_ms = int((time.time() - history_seconds) * 1000)
                    trimmed = await engine.events.trim(cutoff_ms, history_max_bytes)
                    if trimmed:
                        log.debug("trimmed %d events", trimmed)
                await refresh_gauges(engine, metrics)
            except EngineUnavailable:
                # The engine says once that it went and once that it is back.
                log.debug("engine unavailable; history not trimmed this round")
            await asyncio.sleep(GAUGE_INTERVAL_SECONDS)

    return run
