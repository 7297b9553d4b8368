"""A real in-process gateway per test (aiohttp test server) and websocket clients to it.

Every frame those clients exchange is recorded (`frame_recording.py`); when a test ends, the
frames and close codes the gateway sent must match the AsyncAPI document."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, get_port_socket
from frame_recording import FrameLog, recording_websocket
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
    frames: FrameLog

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
def frame_log() -> Iterator[FrameLog]:
    """The frames of this test's websockets; what the gateway sent must match the document."""
    log = FrameLog()
    yield log
    problems = log.problems("to_client")
    assert not problems, "frames or close codes not in docs/asyncapi.yaml:\n" + "\n".join(
        problems[:20]
    )


@pytest.fixture
def make_gateway(aiohttp_client: Any, frame_log: FrameLog, new_engine: NewEngine) -> GatewayFactory:
    recording = recording_websocket(frame_log)

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
        server: web.Application | TestServer = app
        if send_buffer is not None:

            def listener(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
                sock = get_port_socket(host, port, family)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
                return sock

            server = TestServer(app, socket_factory=listener)
        client = await aiohttp_client(server, ws_response_class=recording)
        return Gateway(client, engine, frame_log)

    return factory
