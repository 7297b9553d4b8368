"""The websocket feature's shared objects, one set per app, found through `WS_RUNTIME`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from gateway.agents.tokens import TokenVerifier
from gateway.config import Settings
from gateway.engine.base import Engine
from gateway.metrics import Metrics
from gateway.ws.presence import PresenceAnnouncer
from gateway.ws.router import SessionRouter


@dataclass
class WsRuntime:
    settings: Settings
    engine: Engine
    metrics: Metrics
    verifier: TokenVerifier
    router: SessionRouter
    presence: PresenceAnnouncer
    sockets: dict[web.WebSocketResponse, asyncio.Transport | None] = field(default_factory=dict)
    """Every open websocket, authenticated or not, so shutdown can close them all."""


WS_RUNTIME = web.AppKey("ws_runtime", WsRuntime)
