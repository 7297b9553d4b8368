"""Run the load generator in its own process and collect what it reports."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

import orjson
from pydantic import BaseModel

RESULT_LINE_LIMIT = 256 * 1024 * 1024
"""A result line can carry every latency of a run (`raw_latencies`)."""
STOP = b"stop\n"


class GeneratorFailed(Exception):
    """The generator exited without a result; the message carries its stderr's tail."""


class Generator:
    """A running generator: its reports, read in order; phases sent to a sessions job."""

    def __init__(self, process: asyncio.subprocess.Process, errors: IO[bytes]) -> None:
        self._process = process
        self._errors = errors

    async def report(self, event: str) -> dict[str, Any]:
        """The next report of this kind (`ready`, `phase`, `result`); `GeneratorFailed` when
        the generator exits first (a line cut short means it died while writing it)."""
        assert self._process.stdout is not None
        while (line := await self._process.stdout.readline()).endswith(b"\n"):
            report: dict[str, Any] = orjson.loads(line)
            if report.get("event") == event:
                return report
        await self._process.wait()
        self._errors.seek(0)
        tail = self._errors.read().decode(errors="replace").strip()[-1500:]
        raise GeneratorFailed(f"load generator exited {self._process.returncode}: {tail}")

    async def _say(self, line: bytes) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(line)
        await self._process.stdin.drain()

    async def step(self, phase: BaseModel) -> dict[str, Any]:
        """Run one phase on the held sessions; its report."""
        await self._say(phase.model_dump_json().encode() + b"\n")
        return await self.report("phase")

    async def finish(self) -> dict[str, Any]:
        """Tell a sessions job to stop; its result."""
        await self._say(STOP)
        return await self.report("result")


@contextlib.asynccontextmanager
async def generator(job: BaseModel) -> AsyncIterator[Generator]:
    """A new generator process given `job`; stopped (killed if need be) on the way out."""
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            limit=RESULT_LINE_LIMIT,
        )
        assert process.stdin is not None
        try:
            process.stdin.write(job.model_dump_json().encode() + b"\n")
            await process.stdin.drain()
            yield Generator(process, errors)
        finally:
            if process.returncode is None:
                with contextlib.suppress(ConnectionError):
                    process.stdin.write(STOP)
                    process.stdin.close()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def run_generator(job: BaseModel) -> dict[str, Any]:
    """Run a job that needs no phases to its end; its result."""
    async with generator(job) as running:
        return await running.report("result")
