"""A session's outbox: frames waiting for its socket, bounded in bytes, written by its own task.

`offer` never awaits, so the fan-out loop hands a frame to every session without waiting on
any socket. The backlog is every byte the gateway holds for the session: frames queued here,
frames parked during a resume, and the transport's unsent write buffer (aiohttp's writer
writes each frame straight into it). Past the limit the outbox shuts and reports overflow once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from aiohttp import WSMsgType, web

log = logging.getLogger("gateway.ws")


class Outbox:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        limit_bytes: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self._ws = ws
        self._transport = transport
        self._limit = limit_bytes
        self._on_overflow = on_overflow
        self._frames: deque[bytes] = deque()
        self._queued_bytes = 0
        self._parked: list[tuple[str, bytes]] = []
        self._parked_bytes = 0
        self._open = True
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._write_frames(), name="ws-outbox")

    @property
    def open(self) -> bool:
        return self._open

    def backlog_bytes(self) -> int:
        transport = self._transport
        buffered = 0
        if transport is not None and not transport.is_closing():
            buffered = transport.get_write_buffer_size()
        return self._queued_bytes + self._parked_bytes + buffered

    def _has_room(self, size: int) -> bool:
        if not self._open:
            return False
        if self.backlog_bytes() + size <= self._limit:
            return True
        self.shut()
        self._on_overflow()
        return False

    def offer(self, frame: bytes) -> None:
        """Queue a frame for the socket, or overflow."""
        if self._has_room(len(frame)):
            self._frames.append(frame)
            self._queued_bytes += len(frame)
            self._idle.clear()
            self._wake.set()

    def park(self, event_id: str, frame: bytes) -> None:
        """Hold a live event frame while a resume replays history (it counts as backlog)."""
        if self._has_room(len(frame)):
            self._parked.append((event_id, frame))
            self._parked_bytes += len(frame)

    def unpark_after(self, last_id: str | None) -> None:
        """Queue the parked frames newer than the last replayed event, drop the rest."""
        parked, self._parked, self._parked_bytes = self._parked, [], 0
        for event_id, frame in parked:
            if last_id is None or event_id > last_id:
                self.offer(frame)

    async def drained(self) -> None:
        """Wait until the writer has handed every queued frame to a transport that was not
        paused: a producer with history to send (a resume) paces itself on this."""
        await self._idle.wait()

    async def _write_frames(self) -> None:
        try:
            while self._open:
                if not self._frames:
                    self._idle.set()
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                frame = self._frames.popleft()
                self._queued_bytes -= len(frame)
                await self._ws.send_frame(frame, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("websocket write failed: %s", exc)
            self.shut()
        finally:
            self._idle.set()

    def shut(self) -> None:
        """Stop taking frames and drop what is held. The writer ends after the frame it is
        sending, if any; it is never cancelled, because a writer waiting for the transport
        to drain shares aiohttp's drain future with the close frame, and cancelling one would
        cancel both."""
        self._open = False
        self._frames.clear()
        self._queued_bytes = 0
        self._parked.clear()
        self._parked_bytes = 0
        self._wake.set()
        self._idle.set()
