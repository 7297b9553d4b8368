"""A server's CPU use, and the whole machine's, over the generator's timed window, sampled
from /proc while it runs.

Tells a server-bound run (the server near 100 % of one core: Python serves on one) from one
held back by something else, such as other processes competing for the two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bench.procs import cpu_seconds, machine_busy_seconds

SAMPLE_SECONDS = 0.05


async def machine_busy_percent(seconds: float = 1.0) -> float:
    """How busy the machine is with nothing of ours running: % of one core, over `seconds`."""
    started, busy = time.monotonic(), machine_busy_seconds()
    await asyncio.sleep(seconds)
    return 100.0 * (machine_busy_seconds() - busy) / (time.monotonic() - started)


@dataclass(frozen=True, slots=True)
class CpuUse:
    """% of one core over a window: the server (all its processes), the whole machine, and
    the redis-server the gateway uses, when there is one."""

    server: float
    machine: float
    redis: float | None


class CpuSampler:
    def __init__(self, pid: int, redis_pid: int | None = None) -> None:
        self._pid = pid
        self._redis_pid = redis_pid
        self._samples: list[tuple[float, float, float, float]] = []

    def _sample(self) -> None:
        with contextlib.suppress(OSError):
            redis = cpu_seconds(self._redis_pid) if self._redis_pid else 0.0
            sample = (time.time(), cpu_seconds(self._pid), machine_busy_seconds(), redis)
            self._samples.append(sample)

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(SAMPLE_SECONDS)

    @contextlib.asynccontextmanager
    async def sampling(self) -> AsyncIterator[CpuSampler]:
        self._sample()  # before anything the caller starts: a window starting now is covered
        task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            task.cancel()
            self._sample()

    def percent(self, started: float, ended: float) -> CpuUse | None:
        """CPU as % of one core between `started` and `ended`, each edge interpolated
        between the samples around it; None if the samples do not cover the window."""
        first, last = self._at(started), self._at(ended)
        if first is None or last is None or ended <= started:
            return None
        seconds = ended - started
        server, machine, redis = (
            100.0 * (b - a) / seconds for a, b in zip(first, last, strict=True)
        )
        return CpuUse(server, machine, redis if self._redis_pid else None)

    def _at(self, moment: float) -> tuple[float, float, float] | None:
        """(server, machine, redis) CPU seconds at `moment`, linear between two samples."""
        before = [sample for sample in self._samples if sample[0] <= moment]
        after = [sample for sample in self._samples if sample[0] >= moment]
        if not before or not after:
            return None
        (t0, *at0), (t1, *at1) = before[-1], after[0]
        share = (moment - t0) / (t1 - t0) if t1 > t0 else 0.0
        server, machine, redis = (a + share * (b - a) for a, b in zip(at0, at1, strict=True))
        return server, machine, redis
