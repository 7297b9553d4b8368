"""A websocket's outgoing side: frames written straight into its transport, bounded in bytes.

The transport's write buffer is the session's queue: the event loop sends from it as fast as
the client reads, so `offer` never awaits and the fan-out loop never waits on a socket. The
backlog is every byte the gateway holds for the session: that buffer (not the kernel's) and
the frames corked for one write. Past the limit (`GATEWAY_WS_MAX_BACKLOG_BYTES`) the outbox
shuts and `_overflow` is called once; a session holding nothing takes any one frame, so one
event larger than the limit never drops a client that keeps up. While the fan-out routes a
run of events, each outbox it touches is corked, so a session gets that run's frames in one
write.

Live frames parked during a replay are not backlog (each is an event the store holds), so
parking is capped instead: past the cap the parked frames are dropped and `parked_dropped`
tells the replay to read on from the store.

`AgentConnection` is an `Outbox`: the connection owns its budget, with no object between the
fan-out and the transport.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.ws.frames import text_frame_header

DRAIN_POLL_SECONDS = 0.01
_SMALL_FRAME_BYTES = 16 * 1024


def write_text_frame(transport: asyncio.Transport, payload: bytes) -> None:
    """One complete frame per call, so frames aiohttp writes (pings, close) never interleave
    with it. Small frames go in one write (one send), large ones without a copy."""
    header = text_frame_header(len(payload))
    if len(payload) < _SMALL_FRAME_BYTES:
        transport.write(header + payload)
    else:
        transport.write(header)
        transport.write(payload)


def write_text_frames(transport: asyncio.Transport, payloads: list[bytes]) -> None:
    """Several frames in one write: one send for what would be many."""
    if len(payloads) == 1:
        write_text_frame(transport, payloads[0])
        return
    parts = []
    for payload in payloads:
        parts.append(text_frame_header(len(payload)))
        parts.append(payload)
    transport.write(b"".join(parts))


class Outbox:
    __slots__ = (
        "_corked",
        "_corked_bytes",
        "_limit",
        "_open",
        "_parked",
        "_parked_bytes",
        "parked_dropped",
        "transport",
        "ws",
    )

    def __init__(
        self, ws: web.WebSocketResponse[bool], transport: asyncio.Transport | None, limit_bytes: int
    ) -> None:
        self.ws = ws
        self.transport = transport
        self._limit = limit_bytes
        self._open = transport is not None
        self._corked: list[bytes] | None = None
        self._corked_bytes = 0
        self._parked: list[tuple[str, bytes]] = []
        self._parked_bytes = 0
        self.parked_dropped = False

    def _overflow(self) -> None:
        """Called once when the backlog passes the limit (the outbox has shut)."""
        raise NotImplementedError

    def offer(self, frame: bytes) -> None:
        """Send a frame (into the transport's buffer; held while corked), or overflow.

        Within the limit while the backlog stays within it; a session holding nothing takes
        any one frame. Once per frame per session in the fan-out, hence written out here."""
        transport = self.transport
        if not self.open or transport is None:  # open: the transport is not closing
            return
        size = len(frame)
        held = transport.get_write_buffer_size() + self._corked_bytes
        if held and held + size > self._limit:
            self._shut()
            self._overflow()
            return
        if self._corked is None:
            write_text_frame(transport, frame)
        else:
            self._corked.append(frame)
            self._corked_bytes += size

    def cork(self) -> bool:
        """Hold offered frames until `uncork`; True if this call corked it."""
        if self._corked is not None:
            return False
        self._corked = []
        return True

    def uncork(self) -> None:
        frames, self._corked, self._corked_bytes = self._corked, None, 0
        if frames and self.open and self.transport is not None:
            write_text_frames(self.transport, frames)

    @property
    def open(self) -> bool:
        """False once shut, or once the socket is closing (no data frame may follow a close
        frame)."""
        if self._open and (self.ws.closed or self.transport is None or self.transport.is_closing()):
            self._shut()
        return self._open

    def backlog_bytes(self) -> int:
        return self._buffered() + self._corked_bytes

    def _buffered(self) -> int:
        if self.transport is None or self.transport.is_closing():
            return 0
        return self.transport.get_write_buffer_size()

    def park(self, event_id: str, frame: bytes) -> None:
        """Hold a live event frame while a replay runs; past the parking cap (half the
        backlog limit), drop every parked frame instead (the replay reads them again)."""
        if not self.open:
            return
        if self._parked_bytes + len(frame) > self._limit // 2:
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
        """Wait until the transport holds at most `below_bytes` unsent (or the outbox
        shut). A replay paces itself on this; a close flushes with it. Polled, because the
        transport reports draining only to its protocol (aiohttp's); only a session with a
        backlog ever waits here."""
        while self.open and self._buffered() > below_bytes:  # noqa: ASYNC110
            await asyncio.sleep(DRAIN_POLL_SECONDS)

    def _shut(self) -> None:
        """Stop taking frames and drop the held ones."""
        self._open = False
        self._parked, self._parked_bytes = [], 0
        if self._corked is not None:
            self._corked = []
        self._corked_bytes = 0
