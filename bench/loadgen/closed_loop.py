"""Maximum rate with bounded concurrency: each connection sends its next request on an answer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.loadgen.jobs import CpuMeter, IngestJob
from bench.loadgen.senders import WebhookSender
from bench.stats import LatencySummary
from bench.wire.http import HttpConnection


async def run_ingest(job: IngestJob) -> dict[str, Any]:
    sender = WebhookSender(job.webhook_target(), repeat=job.repeat)
    connections = [await HttpConnection.open(job.host, job.port) for _ in range(job.concurrency)]
    latencies_ms: list[float] = []
    meter = CpuMeter()
    meter.start()
    started = time.monotonic()
    deadline = started + job.duration

    async def worker(connection: HttpConnection) -> None:
        while time.monotonic() < deadline:
            if connection.closed:
                connection = await HttpConnection.open(job.host, job.port)
            _, request = sender.request()
            sent = time.perf_counter()
            if await sender.send(connection, request):
                latencies_ms.append((time.perf_counter() - sent) * 1000)

    await asyncio.gather(*(worker(connection) for connection in connections))
    seconds = time.monotonic() - started
    usage = meter.report()
    for connection in connections:
        connection.close()
    return {
        **sender.outcomes.to_json(),
        "seconds": seconds,
        "latency": LatencySummary.of(latencies_ms).to_json(),
        **({"latenciesMs": latencies_ms} if job.raw_latencies else {}),
        **usage,
    }
