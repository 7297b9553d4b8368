"""Open model: requests leave at a fixed rate whatever the server does, and each latency is
measured from the request's SCHEDULED time, so a stalled server shows as latency instead of
as fewer requests (no coordinated omission)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bench.loadgen.jobs import CpuMeter, OpenLoopJob
from bench.loadgen.senders import ConnectionPool, WebhookSender
from bench.loadgen.sessions import close_all, open_sessions, settle
from bench.payloads import read_marker
from bench.stats import LatencySummary


async def run_open_loop(job: OpenLoopJob) -> dict[str, Any]:
    latencies_ms: list[float] = []
    frames = 0
    expected: int | None = None
    all_received = asyncio.Event()

    def on_text(index: int, payload: bytes) -> None:
        nonlocal frames
        frames += 1
        found = read_marker(payload)
        if found is not None:
            latencies_ms.append((time.time_ns() - found[1]) / 1e6)
            if expected is not None and len(latencies_ms) >= expected:
                all_received.set()

    sockets = await open_sessions(job, on_text)
    await settle(lambda: frames)
    sender = WebhookSender(job.webhook_target())
    pool = ConnectionPool(job.host, job.port, job.max_connections)
    interval_ns = int(1e9 / job.rate)
    count = int(job.duration * job.rate)
    in_flight: set[asyncio.Task[bool]] = set()
    meter = CpuMeter()
    meter.start()
    first_ns = time.time_ns()
    for index in range(count):
        scheduled_ns = first_ns + index * interval_ns
        delay = (scheduled_ns - time.time_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        _, request = sender.request(stamp_ns=scheduled_ns)
        task = asyncio.create_task(pool.send(sender, request))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight)
    usage = meter.report()
    expected = sender.outcomes.ok * job.sessions
    if len(latencies_ms) >= expected:
        all_received.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_received.wait(), job.drain_seconds)
    pool.close()
    close_all(sockets)
    return {
        **sender.outcomes.to_json(),
        "rate": job.rate,
        "sent": count,
        "received": len(latencies_ms),
        "missing": max(0, expected - len(latencies_ms)),
        "seconds": (time.time_ns() - first_ns) / 1e9,
        "latency": LatencySummary.of(latencies_ms).to_json(),
        **({"latenciesMs": latencies_ms} if job.raw_latencies else {}),
        **usage,
    }
