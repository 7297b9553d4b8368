"""The websocket feature's shared objects, one set per app, found through `WS_RUNTIME`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.agents.tokens import TokenVerifier
from gateway.config import Settings
from gateway.engine.base import Engine
from gateway.metrics import Metrics
from gateway.ws.presence import Presence
from gateway.ws.router import SessionRouter


@dataclass
class WsRuntime:
    settings: Settings
    engine: Engine
    metrics: Metrics
    verifier: TokenVerifier
    router: SessionRouter
    presence: Presence
    pending: dict[web.WebSocketResponse, asyncio.Transport | None] = field(default_factory=dict)
    """Websockets still waiting for their auth frame (sessions are in the router)."""
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def keep(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` in a task referenced until it ends (the loop only holds tasks weakly)."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


WS_RUNTIME = web.AppKey("ws_runtime", WsRuntime)
