"""Calls made in one turn of the event loop go to Redis as one command.

Under load, many requests reach the same engine call in the same turn of the loop (their
sockets were ready together): each webhook's append, each request's integration lookup.
In redis-py a command costs ~50-60 µs of this process's CPU whatever it carries (pool,
timeouts, packing, a reply to wait for), several times what the append itself costs, so
a process sending one command per request spends most of its time in the client. A
`Batcher` collects the calls of one turn and sends them, at the start of the next turn,
as one command (one append script for every webhook's events, one `HMGET` for every
lookup): what a busy process pays per call falls with the load, and a lone call waits
only for the calls already queued in this turn.

Each call still gets exactly its own answer, or the command's error. A call is sent after
it was made (never answered by a command sent before it), so it sees every change that
completed before it; calls batched together run as one atomic command, in the order they
were made, which is one of the orders they could have run in alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Batch(Generic[Item, Result]):
    items: list[Item] = field(default_factory=list)
    waiters: list[tuple[int, int, asyncio.Future[list[Result]]]] = field(default_factory=list)


class Batcher(Generic[Item, Result]):
    """`send` takes every item of a batch and returns one result per item, in order."""

    def __init__(
        self, send: Callable[[list[Item]], Awaitable[Sequence[Result]]], max_items: int
    ) -> None:
        self._send = send
        self._max_items = max_items
        self._open: _Batch[Item, Result] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, items: Sequence[Item]) -> list[Result]:
        """The results for `items`, sent with whatever else this turn of the loop asks."""
        batch = self._open
        if batch is None or (batch.items and len(batch.items) + len(items) > self._max_items):
            batch = self._open = _Batch()
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        future: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        batch.waiters.append((len(batch.items), len(items), future))
        batch.items.extend(items)
        return await future

    async def _flush(self, batch: _Batch[Item, Result]) -> None:
        """Runs at the start of the next turn: every call of this one has joined."""
        if self._open is batch:
            self._open = None
        try:
            results = await self._send(batch.items)
        except BaseException as exc:
            for _, _, future in batch.waiters:
                if not future.done():
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for start, count, future in batch.waiters:
            if not future.done():
                future.set_result(list(results[start : start + count]))
