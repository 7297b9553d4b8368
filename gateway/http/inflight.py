"""In-flight request tracking and the draining flag of a graceful shutdown.

aiohttp's own shutdown stops reading from open connections at once, which starves a request
whose body is still arriving. The server therefore stops listening first and marks the app
draining (each answer then closes its connection and `/readyz` says 503), waits here until
every plain HTTP request's handler has returned, and only then lets aiohttp write what is
left and close connections. The request middleware does the counting; websocket sessions are
long-lived and are not counted: they are closed with 1012 afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False

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

    async def drain(self, limit_seconds: float) -> bool:
        """Mark the app draining; True once nothing is in flight, False if `limit_seconds`
        passed first."""
        self.draining = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), limit_seconds)
        return self._idle.is_set()
