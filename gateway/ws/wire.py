"""Server-to-client websocket text frames (RFC 6455 §5.2: FIN, opcode 1, no mask), written
straight to the transport so one encoded event is framed without re-encoding."""

from __future__ import annotations

import asyncio
import struct

_FIN_TEXT = 0x81
_SMALL_FRAME_BYTES = 16 * 1024


def text_frame_header(length: int) -> bytes:
    if length < 126:
        return struct.pack("!BB", _FIN_TEXT, length)
    if length < 65536:
        return struct.pack("!BBH", _FIN_TEXT, 126, length)
    return struct.pack("!BBQ", _FIN_TEXT, 127, length)


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


def write_text_frame(transport: asyncio.Transport, payload: bytes) -> None:
    """One complete frame per call, so frames aiohttp writes (pings, close) never interleave
    with it. Small frames go in one write (one send), large ones without a copy."""
    header = text_frame_header(len(payload))
    if len(payload) < _SMALL_FRAME_BYTES:
        transport.write(header + payload)
    else:
        transport.write(header)
        transport.write(payload)
