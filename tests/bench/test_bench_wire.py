"""The bench's own HTTP and websocket clients against real aiohttp servers: what they
report is what the server sent, whatever the frame size or how TCP splits it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.wire.http import HttpConnection, post_request
from bench.wire.websocket import HandshakeFailed, WebSocket

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
SIZES = (0, 1, 125, 126, 1000, 65535, 65536, 200_000)


def frame_text(size: int) -> str:
    return "".join(chr(ord("a") + index % 26) for index in range(size))


async def test_http_connection_reports_each_status_and_keeps_the_connection(
    aiohttp_server: ServerFactory,
) -> None:
    bodies: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        status = int(request.match_info["status"])
        return web.Response(status=status, text="x" * 5000 if status == 200 else None)

    app = web.Application()
    app.router.add_post("/{status}", handler)
    server = await aiohttp_server(app)
    connection = await HttpConnection.open(server.host, server.port)
    host = f"{server.host}:{server.port}"
    statuses = [
        await connection.send(post_request(host, f"/{status}", {}, f"body {status}".encode()))
        for status in (204, 200, 202, 404, 200)
    ]
    connection.close()
    assert statuses == [204, 200, 202, 404, 200]
    assert bodies == [f"body {status}".encode() for status in (204, 200, 202, 404, 200)]


async def test_websocket_delivers_frames_of_every_length_class_intact(
    aiohttp_server: ServerFactory,
) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        for size in SIZES:
            await socket.send_str(frame_text(size))
        await socket.ping(b"are you there")
        await socket.send_str('{"type":"ping"}')
        async for message in socket:
            await socket.send_str("echo:" + message.data)
        return socket

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = await aiohttp_server(app)
    received: list[bytes] = []
    expected = len(SIZES) + 2
    done = asyncio.Event()

    def on_text(payload: bytes) -> None:
        received.append(payload)
        if len(received) >= expected:
            done.set()

    socket = await WebSocket.connect(server.host, server.port, "/ws", on_text)
    await asyncio.wait_for(done.wait(), 10)
    socket.close()
    assert received[: len(SIZES)] == [frame_text(size).encode() for size in SIZES]
    assert received[len(SIZES)] == b'{"type":"ping"}'
    assert received[len(SIZES) + 1] == b'echo:{"type":"pong"}'


async def test_websocket_refused_upgrade_reports_the_status(
    aiohttp_server: ServerFactory,
) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "unauthorized"}}, status=401)

    app = web.Application()
    app.router.add_get("/ws", refuse)
    server = await aiohttp_server(app)
    try:
        await WebSocket.connect(server.host, server.port, "/ws", lambda payload: None)
    except HandshakeFailed as exc:
        assert exc.status == 401
    else:
        raise AssertionError("a 401 upgrade must raise HandshakeFailed")
