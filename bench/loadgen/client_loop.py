"""The delivery baseline: what a plain aiohttp ClientSession POST loop achieves to the sink."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from bench.loadgen.jobs import ClientLoopJob, CpuMeter
from bench.loadgen.senders import Outcomes
from bench.payloads import hubster_body, now_ms


async def run_client_loop(job: ClientLoopJob) -> dict[str, Any]:
    outcomes = Outcomes()
    url = f"http://{job.host}:{job.port}{job.path}"
    first_event_ms = now_ms()
    seq = 0
    connector = aiohttp.TCPConnector(limit=job.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        meter = CpuMeter()
        meter.start()
        started = time.monotonic()
        deadline = started + job.duration

        async def worker() -> None:
            nonlocal seq
            while time.monotonic() < deadline:
                seq += 1
                body = hubster_body(seq, time.time_ns(), job.hub_id, first_event_ms)
                headers = {"Content-Type": "application/json"}
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        outcomes.statuses[response.status] += 1
                except aiohttp.ClientError:
                    outcomes.failures += 1

        await asyncio.gather(*(worker() for _ in range(job.concurrency)))
        seconds = time.monotonic() - started
        usage = meter.report()
    return {**outcomes.to_json(), "seconds": seconds, **usage}
