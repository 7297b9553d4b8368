"""Idle sessions: open them, say so on stdout, hold them until the parent says stop."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson

from bench.loadgen.jobs import IdleJob
from bench.loadgen.sessions import close_all, open_sessions, settle


async def run_idle(job: IdleJob) -> dict[str, Any]:
    frames = 0

    def on_text(index: int, payload: bytes) -> None:
        nonlocal frames
        frames += 1

    sockets = await open_sessions(job, on_text)
    await settle(lambda: frames)
    sys.stdout.buffer.write(orjson.dumps({"event": "ready", "sessions": len(sockets)}) + b"\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.readline)
    closed_by_server = sum(1 for socket in sockets if socket.closed.done())
    close_all(sockets)
    return {"sessions": len(sockets), "closedByServer": closed_by_server, "cpuPercent": None}
