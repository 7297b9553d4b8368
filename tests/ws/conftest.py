"""A real in-process gateway per test (aiohttp test server) and websocket clients to it."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, get_port_socket
from ws_helpers import ADMIN_KEY, JWT_SECRET, bearer, next_frame

from gateway.config import Settings
from gateway.engine.base import Engine
from gateway.http.app import build_app
from gateway.http.appkeys import METRICS
from tests.conftest import NewEngine

TEST_SETTINGS: dict[str, Any] = {
    "port": 0,
    "ws_heartbeat_seconds": 30,
    "ws_auth_timeout_seconds": 2,
    "ws_refresh_grace_seconds": 1,
}


@dataclass
class Gateway:
    client: TestClient[web.Request, web.Application]
    engine: Engine

    @property
    def app(self) -> web.Application:
        return self.client.app

    async def connect(
        self, token: str | None = None, **kwargs: Any
    ) -> aiohttp.ClientWebSocketResponse:
        headers = bearer(token) if token else None
        return await self.client.ws_connect("/ws", headers=headers, **kwargs)

    async def session(
        self, token: str, **kwargs: Any
    ) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
        """A connected, authenticated websocket and its `ready` frame."""
        ws = await self.connect(token, **kwargs)
        ready = await next_frame(ws)
        assert ready["type"] == "ready", ready
        return ws, ready

    def metric(self, name: str) -> float:
        value = self.app[METRICS].registry.get_sample_value(name)
        return 0.0 if value is None else value


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
def make_gateway(aiohttp_client: Any, new_engine: NewEngine) -> GatewayFactory:
    async def factory(
        engine: Engine | None = None, *, send_buffer: int | None = None, **settings: Any
    ) -> Gateway:
        """`send_buffer` caps the kernel's send buffer of the server's sockets, so data a
        client has not read backs up in the gateway soon (loopback buffers take megabytes)."""
        engine = engine or await new_engine()
        app = build_app(
            Settings(**{**TEST_SETTINGS, **settings}),
            engine,
            admin_key=ADMIN_KEY,
            jwt_secret=JWT_SECRET,
        )
        if send_buffer is None:
            return Gateway(await aiohttp_client(app), engine)

        def listener(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
            sock = get_port_socket(host, port, family)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
            return sock

        return Gateway(await aiohttp_client(TestServer(app, socket_factory=listener)), engine)

    return factory
