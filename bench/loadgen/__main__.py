"""`python -m bench.loadgen`: read one job (a JSON line) on stdin, run it, print
`{"event": "result", ...}` as the last stdout line. A sessions job first says
`{"event": "ready", ...}`, then runs each phase it is sent (one JSON line each, answered
with `{"event": "phase", ...}`) until it reads `stop`.

Runs on uvloop when it is installed, whatever loop the servers under test use: the
generator is the same for the gateway and its baseline, and the less CPU it needs, the
more the server under test gets.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

from bench.loadgen.client_loop import run_client_loop
from bench.loadgen.closed_loop import run_ingest
from bench.loadgen.fanout import run_sessions
from bench.loadgen.jobs import JOB, ClientLoopJob, IngestJob, Job, OpenLoopJob, SessionsJob
from bench.loadgen.open_loop import run_open_loop
from bench.loops import FASTEST, loop_factory


async def run(job: Job) -> dict[str, Any]:
    match job:
        case IngestJob():
            return await run_ingest(job)
        case OpenLoopJob():
            return await run_open_loop(job)
        case SessionsJob():
            return await run_sessions(job, sys.stdin.readline)
        case ClientLoopJob():
            return await run_client_loop(job)


def main() -> int:
    job = JOB.validate_json(sys.stdin.readline())
    with asyncio.Runner(loop_factory=loop_factory(FASTEST)) as runner:
        result = runner.run(run(job))
    sys.stdout.buffer.write(orjson.dumps({"event": "result", **result}) + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
