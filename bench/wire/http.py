"""Keep-alive HTTP/1.1 requests over one connection, one at a time, answers by Content-Length."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import cast


class ConnectionClosed(Exception):
    """The server closed the connection before answering."""


def post_request(host: str, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """The complete bytes of a POST: request line, headers, body."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None
        self._status = 0
        self._needed = -1
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)

    async def send(self, request: bytes) -> int:
        """Send a complete request and return the answer's status code."""
        if self.closed or self._transport is None:
            raise ConnectionClosed("connection is closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._needed < 0:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self._status, length = _parse_head(bytes(self._buffer[:end]))
            self._needed = end + 4 + length
        if len(self._buffer) >= self._needed:
            del self._buffer[: self._needed]
            self._needed = -1
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(self._status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionClosed(str(exc or "closed by server")))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _parse_head(head: bytes) -> tuple[int, int]:
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value)
    return status, 0
