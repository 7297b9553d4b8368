"""Background loops, supervised: `/readyz` asks here whether each one is really alive.

A loop is an async function taking a `beat` callback it calls at least once per cycle. A loop
whose task ended (crashed or returned) or whose last beat is older than its `stall_after` is
reported by `problems()`. Loops handle transient engine errors themselves; anything else that
escapes them is a bug, logged here once, and keeps `/readyz` at 503. `crashed` is set then: a
worker of `serve --workers N` leaves on it, to be replaced by its supervisor (`server.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

LoopBody = Callable[[Callable[[], None]], Coroutine[Any, Any, None]]

log = logging.getLogger("gateway.loops")


@dataclass
class _Loop:
    name: str
    stall_after: float
    task: asyncio.Task[None] | None = None
    last_beat: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.last_beat = time.monotonic()


class Loops:
    def __init__(self) -> None:
        self._loops: dict[str, _Loop] = {}
        self._stopping = False
        self.crashed = asyncio.Event()
        """Set when a loop ended on its own (crashed or returned): it never comes back."""

    def start(self, name: str, body: LoopBody, *, stall_after: float = 60.0) -> None:
        loop = _Loop(name, stall_after)
        loop.task = asyncio.create_task(body(loop.beat), name=f"loop:{name}")
        loop.task.add_done_callback(self._report_end)
        self._loops[name] = loop

    def _report_end(self, task: asyncio.Task[None]) -> None:
        if self._stopping or task.cancelled():
            return
        exc = task.exception()
        log.error("background loop %s stopped", task.get_name(), exc_info=exc)
        self.crashed.set()

    def problems(self) -> list[str]:
        now = time.monotonic()
        found = []
        for loop in self._loops.values():
            if loop.task is None or loop.task.done():
                found.append(f"loop {loop.name} is not running")
            elif now - loop.last_beat > loop.stall_after:
                found.append(f"loop {loop.name} has stalled")
        return found

    async def stop(self) -> None:
        self._stopping = True
        tasks = [loop.task for loop in self._loops.values() if loop.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
