"""A session's outbox: frames go straight into its socket's transport, bounded in bytes.

The transport's write buffer is the session's queue: the event loop sends from it as fast as
the client reads, so `offer` never awaits and the fan-out loop never waits on a socket. The
backlog is every byte the gateway holds for the session: that buffer (not the kernel's) and
frames corked for one write. Past the limit the outbox shuts and reports overflow once.

Live frames parked during a resume are not backlog: each is an event the store holds, so
parking is capped instead. Past the cap the parked frames are dropped and `parked_dropped`
tells the replay to read on from the store until it has caught up with no drop since.
An idle session costs no task and no buffer. While the fan-out loop routes a run of events,
each outbox it touches is corked, so a session gets that run's frames in one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from gateway.ws.wire import write_text_frame, write_text_frames

DRAIN_POLL_SECONDS = 0.01


class Outbox:
    __slots__ = (
        "_corked",
        "_corked_bytes",
        "_limit",
        "_on_overflow",
        "_open",
        "_parked",
        "_parked_bytes",
        "_parking_cap",
        "_transport",
        "_ws",
        "parked_dropped",
    )

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
        self._parked: list[tuple[str, bytes]] = []
        self._parked_bytes = 0
        self._parking_cap = limit_bytes // 2
        self.parked_dropped = False
        self._corked: list[bytes] | None = None
        self._corked_bytes = 0
        self._open = transport is not None

    @property
    def open(self) -> bool:
        """False once shut, or once the socket is closing (no data frame may follow a close
        frame)."""
        if self._open and (self._ws.closed or self._transport_closing()):
            self.shut()
        return self._open

    def _transport_closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    def _buffered(self) -> int:
        if self._transport is None or self._transport.is_closing():
            return 0
        return self._transport.get_write_buffer_size()

    def backlog_bytes(self) -> int:
        return self._buffered() + self._corked_bytes

    def _has_room(self, size: int) -> bool:
        """Room while the backlog stays within the limit. A session holding nothing takes
        any one frame, so a single event larger than the limit never drops a client that
        keeps up."""
        if not self.open:
            return False
        held = self.backlog_bytes()
        if held == 0 or held + size <= self._limit:
            return True
        self.shut()
        self._on_overflow()
        return False

    def offer(self, frame: bytes) -> None:
        """Send a frame (into the transport's buffer; held while corked), or overflow."""
        if not self._has_room(len(frame)) or self._transport is None:
            return
        if self._corked is None:
            write_text_frame(self._transport, frame)
        else:
            self._corked.append(frame)
            self._corked_bytes += len(frame)

    def cork(self) -> bool:
        """Hold offered frames until `uncork`; True if this call corked it."""
        if self._corked is not None:
            return False
        self._corked = []
        return True

    def uncork(self) -> None:
        frames, self._corked, self._corked_bytes = self._corked, None, 0
        if frames and self.open and self._transport is not None:
            write_text_frames(self._transport, frames)

    def park(self, event_id: str, frame: bytes) -> None:
        """Hold a live event frame while a resume replays history; past the parking cap,
        drop every parked frame instead (the replay reads them from the store)."""
        if not self.open:
            return
        if self._parked_bytes + len(frame) > self._parking_cap:
            self._parked, self._parked_bytes = [], 0
            self.parked_dropped = True
            return
        self._parked.append((event_id, frame))
        self._parked_bytes += len(frame)

    def unpark_after(self, last_id: str | None) -> None:
        """Send the parked frames newer than the last replayed event, drop the rest."""
        parked, self._parked, self._parked_bytes = self._parked, [], 0
        for event_id, frame in parked:
            if last_id is None or event_id > last_id:
                self.offer(frame)

    async def drained(self, below_bytes: int = 0) -> None:
        """Wait until the transport holds at most `below_bytes` unsent (or the outbox shut).
        A resume paces its replay on this; a close flushes with it. Polled, because the
        transport reports draining only to its protocol (aiohttp's); only a session with a
        backlog ever waits here."""
        while self.open and self._buffered() > below_bytes:  # noqa: ASYNC110
            await asyncio.sleep(DRAIN_POLL_SECONDS)

    def shut(self) -> None:
        """Stop taking frames and drop the held ones."""
        self._open = False
        self._parked = []
        self._parked_bytes = 0
        if self._corked is not None:
            self._corked = []
        self._corked_bytes = 0
