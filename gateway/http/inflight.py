"""In-flight request tracking, so a graceful shutdown can wait for requests to finish.

aiohttp's own shutdown stops reading from open connections at once, which starves a request
whose body is still arriving. The server therefore stops listening first, waits here until
every plain HTTP request has been answered, and only then lets aiohttp close connections.
Websocket sessions are long-lived and are not counted: they are closed with 1012 afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    def enter(self) -> None:
        self._count += 1
        self._idle.clear()

    def leave(self) -> None:
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    async def wait_idle(self, limit_seconds: float) -> bool:
        """True once nothing is in flight; False if `limit_seconds` passed first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), limit_seconds)
        return self._idle.is_set()


INFLIGHT = web.AppKey("inflight", InFlight)
