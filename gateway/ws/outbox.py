"""A websocket's outgoing side: frames written straight into its transport, bounded in bytes.

The transport's write buffer is the session's queue: the event loop sends from it as fast as
the client reads, so `offer` never awaits and the fan-out loop never waits on a socket. The
backlog is every byte the gateway holds for the session: that buffer (not the kernel's) and
the frames corked for one write. Past the limit (`GATEWAY_WS_MAX_BACKLOG_BYTES`) the outbox
shuts and `_overflow` is called once; a session holding nothing takes any one frame, so one
event larger than the limit never drops a client that keeps up. The fan-out frames each event
once (`wire_text_frame`) and `send`s that same object to every session; while it routes a
run of several events, each outbox it touches is corked, so a session gets that run's frames
in one write.

Live frames parked during a replay are not backlog (each is an event the store holds), so
parking is capped instead: past the cap the parked frames are dropped and `parked_dropped`
tells the replay to read on from the store.

`AgentConnection` is an `Outbox`: the connection owns its budget, with no object between the
fan-out and the transport.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.ws.frames import wire_text_frame

DRAIN_POLL_SECONDS = 0.01


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
        """Send a frame's payload, framed here (`send`)."""
        self.send(wire_text_frame(frame))

    def send(self, wire: bytes) -> None:
        """Send a whole frame (`wire_text_frame`) into the transport's buffer (held while
        corked), or overflow. One write per frame, so frames aiohttp writes (pings, close)
        never interleave with it.

        Within the limit while the backlog stays within it; a session holding nothing takes
        any one frame. Once per frame per session in the fan-out: written out here, the
        `open` check included."""
        transport = self.transport
        if transport is None or not self._open or transport.is_closing() or self.ws.closed:
            self._shut()  # no data frame may follow a close frame
            return
        size = len(wire)
        held = transport.get_write_buffer_size() + self._corked_bytes
        if held and held + size > self._limit:
            self._shut()
            self._overflow()
            return
        corked = self._corked
        if corked is None:
            transport.write(wire)
        else:
            corked.append(wire)
            self._corked_bytes += size

    def cork(self) -> bool:
        """Hold sent frames until `uncork`; True if this call corked it."""
        if self._corked is not None:
            return False
        self._corked = []
        return True

    def uncork(self) -> None:
        """Write the frames held since `cork` in one write: one send for what would be many."""
        frames, self._corked, self._corked_bytes = self._corked, None, 0
        if frames and self.open and self.transport is not None:
            self.transport.write(frames[0] if len(frames) == 1 else b"".join(frames))

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

    def park(self, event_id: str, wire: bytes) -> None:
        """Hold a live event's whole frame while a replay runs; past the parking cap (half
        the backlog limit), drop every parked frame instead (the replay reads them again)."""
        if not self.open:
            return
        if self._parked_bytes + len(wire) > self._limit // 2:
            self._parked, self._parked_bytes = [], 0
            self.parked_dropped = True
            return
        self._parked.append((event_id, wire))
        self._parked_bytes += len(wire)

    def unpark_after(self, last_id: str | None) -> None:
        """Send the parked frames newer than the last replayed event, drop the rest."""
        parked, self._parked, self._parked_bytes = self._parked, [], 0
        for event_id, wire in parked:
            if last_id is None or event_id > last_id:
                self.send(wire)

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
