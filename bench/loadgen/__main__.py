"""`python -m bench.loadgen`: read one job (a JSON line) on stdin, run it, print
`{"event": "result", ...}` as the last stdout line."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

from bench.loadgen.client_loop import run_client_loop
from bench.loadgen.closed_loop import run_ingest
from bench.loadgen.fanout import run_fanout
from bench.loadgen.idle import run_idle
from bench.loadgen.jobs import (
    JOB,
    ClientLoopJob,
    FanoutJob,
    IdleJob,
    IngestJob,
    Job,
    OpenLoopJob,
)
from bench.loadgen.open_loop import run_open_loop


async def run(job: Job) -> dict[str, Any]:
    match job:
        case IngestJob():
            return await run_ingest(job)
        case OpenLoopJob():
            return await run_open_loop(job)
        case FanoutJob():
            return await run_fanout(job)
        case IdleJob():
            return await run_idle(job)
        case ClientLoopJob():
            return await run_client_loop(job)


def main() -> int:
    job = JOB.validate_json(sys.stdin.readline())
    result = asyncio.run(run(job))
    sys.stdout.buffer.write(orjson.dumps({"event": "result", **result}) + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
