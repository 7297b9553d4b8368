"""Bare broadcast: each published event encoded once, one `send_str` per connected socket."""

from __future__ import annotations

import orjson
from aiohttp import web

from bench.servers.bare import READY_FRAME

Sockets = set[web.WebSocketResponse]
SOCKETS = web.AppKey("sockets", Sockets)


async def publish(request: web.Request) -> web.Response:
    event = orjson.loads(await request.read())
    frame = orjson.dumps({"type": "event", "event": event}).decode()
    sockets: Sockets = request.app[SOCKETS]
    for socket in list(sockets):
        await socket.send_str(frame)
    return web.Response(status=204)


async def subscribe(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    await socket.send_str(READY_FRAME)
    request.app[SOCKETS].add(socket)
    try:
        async for _ in socket:
            pass
    finally:
        request.app[SOCKETS].discard(socket)
    return socket


def build() -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    app[SOCKETS] = set()
    app.router.add_get("/ws", subscribe)
    app.router.add_post("/publish", publish)
    return app
