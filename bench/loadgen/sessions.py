"""Many websocket sessions opened in parallel, each ready once its first frame arrived."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from bench.loadgen.jobs import SessionJob
from bench.wire.websocket import WebSocket

READY_TIMEOUT_SECONDS = 30.0
OnText = Callable[[int, bytes], None]
"""Called with (session index, frame bytes) for every text frame after the first."""


async def open_sessions(job: SessionJob, on_text: OnText) -> list[WebSocket]:
    """Open `job.sessions` sessions, `connect_concurrency` at a time, and wait until each
    has its first frame (the gateway's `ready`; baselines send one too)."""
    gate = asyncio.Semaphore(job.connect_concurrency)

    async def one(index: int) -> WebSocket:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def first_frame(payload: bytes) -> None:
            if not ready.done():
                ready.set_result(None)

        async with gate:
            socket = await WebSocket.connect(
                job.host, job.port, job.ws_path, first_frame, job.ws_headers
            )
            await asyncio.wait_for(ready, READY_TIMEOUT_SECONDS)
            socket.on_text = functools.partial(on_text, index)
            return socket

    return list(await asyncio.gather(*(one(index) for index in range(job.sessions))))


async def settle(
    frames_seen: Callable[[], int], quiet_seconds: float = 0.3, at_most_seconds: float = 10.0
) -> None:
    """Wait until no frame arrived for `quiet_seconds`: the connection storm (presence
    frames and the like) is over before anything is measured."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + at_most_seconds
    seen = -1
    while seen != frames_seen() and loop.time() < give_up:
        seen = frames_seen()
        await asyncio.sleep(quiet_seconds)


def close_all(sockets: list[WebSocket]) -> None:
    for socket in sockets:
        socket.close()
