"""Closing a websocket within a bounded time, whatever the client does."""

from __future__ import annotations

import asyncio

from aiohttp import web

CLOSE_TIMEOUT_SECONDS = 5.0


async def close_socket(
    ws: web.WebSocketResponse,
    transport: asyncio.Transport | None,
    code: int,
    reason: str,
) -> None:
    """Send the close frame and wait for the client's answer, but never longer than the
    timeout: a client that stopped reading has its connection aborted instead."""
    try:
        await asyncio.wait_for(ws.close(code=code, message=reason.encode()), CLOSE_TIMEOUT_SECONDS)
    except (TimeoutError, ConnectionError, RuntimeError):
        if transport is not None:
            transport.abort()
