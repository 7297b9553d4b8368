"""Run the load generator in its own process and collect its result."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel

RESULT_LINE_LIMIT = 256 * 1024 * 1024
"""A result line can carry every latency of a run (`raw_latencies`)."""
OnReady = Callable[[dict[str, Any]], Awaitable[None]]


class GeneratorFailed(Exception):
    """The generator exited without a result; the message carries its stderr's tail."""


async def run_generator(job: BaseModel, on_ready: OnReady | None = None) -> dict[str, Any]:
    """Hand `job` to a new generator process. When it reports `ready` (idle sessions),
    await `on_ready` with that report, then tell it to stop; return its result."""
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
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(job.model_dump_json().encode() + b"\n")
        await process.stdin.drain()
        result: dict[str, Any] | None = None
        while line := await process.stdout.readline():
            report = orjson.loads(line)
            if report.get("event") == "ready":
                if on_ready is not None:
                    await on_ready(report)
                process.stdin.write(b"stop\n")
                await process.stdin.drain()
            elif report.get("event") == "result":
                result = report
        process.stdin.close()
        await process.wait()
        if result is None:
            errors.seek(0)
            tail = errors.read().decode(errors="replace").strip()[-1500:]
            raise GeneratorFailed(f"load generator exited {process.returncode}: {tail}")
        return result
