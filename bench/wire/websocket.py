"""A websocket client that hands each text frame's raw bytes to a callback.

No JSON parsing here: a receiver looks for what it needs in the bytes, so a hundred thousand
frames a second cost the generator little. Pings (protocol and the gateway's own
`{"type": "ping"}` frames) are answered so long runs are not closed as idle.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable, Mapping
from typing import cast

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
APP_PING = b'"type":"ping"'
APP_PONG = b'{"type":"pong"}'
APP_PING_MAX_BYTES = 64


class HandshakeFailed(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"websocket upgrade answered HTTP {status}")
        self.status = status


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (clients must mask; a zero mask keeps it cheap and valid)."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + b"\x00\x00\x00\x00" + payload


class WebSocket(asyncio.Protocol):
    def __init__(self, on_text: Callable[[bytes], None]) -> None:
        self.on_text = on_text
        """Receives every text frame; replaceable once the session is set up."""
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False
        self._handshake: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._fragments = bytearray()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        path: str,
        on_text: Callable[[bytes], None],
        headers: Mapping[str, str] | None = None,
    ) -> WebSocket:
        """Open a connection and upgrade it; `HandshakeFailed` unless the answer is 101."""
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(lambda: cls(on_text), host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        assert protocol._transport is not None
        protocol._transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status = await protocol._handshake
        if status != 101:
            protocol.close()
            raise HandshakeFailed(status)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def send_text(self, payload: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_frame(OP_TEXT, payload))

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_frame(OP_CLOSE, struct.pack("!H", 1000)))
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._upgraded:
            self._buffer += data
            if not self._read_handshake():
                return
            data = bytes(self._buffer)
        elif self._buffer:
            data = bytes(self._buffer) + data
        self._buffer = bytearray(self._read_frames(data))

    def _read_handshake(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        status = int(bytes(self._buffer[: self._buffer.find(b"\r\n")]).split(b" ", 2)[1])
        del self._buffer[: end + 4]
        self._upgraded = status == 101
        if not self._handshake.done():
            self._handshake.set_result(status)
        return self._upgraded

    def _read_frames(self, data: bytes) -> bytes:
        """Handle every complete frame in `data`; return the incomplete rest."""
        offset, size = 0, len(data)
        while size - offset >= 2:
            first, length = data[offset], data[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                if size - start < 2:
                    break
                length = (data[start] << 8) | data[start + 1]
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                (length,) = struct.unpack_from("!Q", data, start)
                start += 8
            if size - start < length:
                break
            offset = start + length
            if first == 0x80 | OP_TEXT and not self._fragments:
                self._text(data[start:offset])
            else:
                self._handle(first & 0x80, first & 0x0F, data[start:offset])
        return data[offset:]

    def _text(self, payload: bytes) -> None:
        if len(payload) < APP_PING_MAX_BYTES and APP_PING in payload:
            self.send_text(APP_PONG)
        self.on_text(payload)

    def _handle(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
            self._fragments += payload
            if fin:
                message, self._fragments = bytes(self._fragments), bytearray()
                self._text(message)
        elif opcode == OP_PING and self._transport is not None:
            self._transport.write(_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self._finish(code)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._handshake.done():
            self._handshake.set_result(0)
        self._finish(1006)

    def _finish(self, code: int) -> None:
        if not self.closed.done():
            self.closed.set_result(code)
