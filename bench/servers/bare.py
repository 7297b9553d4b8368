"""Bare handler: read the body, answer 204; and bare websockets that are only held open."""

from __future__ import annotations

from aiohttp import web

READY_FRAME = '{"type":"ready"}'


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=204)


async def hold(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    await socket.send_str(READY_FRAME)
    async for _ in socket:
        pass
    return socket


def build() -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    app.router.add_get("/ws", hold)
    app.router.add_post("/{tail:.*}", accept)
    return app
