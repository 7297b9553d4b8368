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

from bench.procs import cpu_seconds, machine_busy_seconds

SAMPLE_SECONDS = 0.05


async def machine_busy_percent(seconds: float = 1.0) -> float:
    """How busy the machine is with nothing of ours running: % of one core, over `seconds`."""
    started, busy = time.monotonic(), machine_busy_seconds()
    await asyncio.sleep(seconds)
    return 100.0 * (machine_busy_seconds() - busy) / (time.monotonic() - started)


class CpuSampler:
    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._samples: list[tuple[float, float, float]] = []

    def _sample(self) -> None:
        with contextlib.suppress(OSError):
            sample = (time.time(), cpu_seconds(self._pid), machine_busy_seconds())
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

    def percent(self, started: float, ended: float) -> tuple[float, float] | None:
        """(server, whole machine) CPU as % of one core between `started` and `ended`, each
        edge interpolated between the samples around it; None if the samples do not
        cover the window."""
        first, last = self._at(started), self._at(ended)
        if first is None or last is None or ended <= started:
            return None
        seconds = ended - started
        return 100.0 * (last[0] - first[0]) / seconds, 100.0 * (last[1] - first[1]) / seconds

    def _at(self, moment: float) -> tuple[float, float] | None:
        """(server, machine) CPU seconds at `moment`, linear between two samples."""
        before = [sample for sample in self._samples if sample[0] <= moment]
        after = [sample for sample in self._samples if sample[0] >= moment]
        if not before or not after:
            return None
        (t0, server0, machine0), (t1, server1, machine1) = before[-1], after[0]
        share = (moment - t0) / (t1 - t0) if t1 > t0 else 0.0
        return server0 + share * (server1 - server0), machine0 + share * (machine1 - machine0)
