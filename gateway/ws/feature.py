"""The agent feature: `PUT /agent/auth`, `GET /ws`, `GET /hubs/{hubId}/presence`, the
fan-out, heartbeat and presence loops, and closing every websocket with 1012 when the server
shuts down.

`GET /ws` decides, before any upgrade, what HTTP can still answer in the error format: an
`Authorization` header that is not a usable bearer token, or a bad one (401), a malformed
`?lastEventId=` (400), and, for a websocket that will authenticate by its first frame, the
cap on websockets not yet authenticated (`GATEWAY_WS_MAX_UNAUTHENTICATED`: beyond it 503
`unavailable` with Retry-After, counted in `gateway_ws_refused_total`), so that a flood of
upgrades that never authenticate costs a refusal each, not a websocket each for the auth
timeout. Everything after the upgrade belongs to the connection and its protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSCloseCode, web

from gateway.agents import routes as agent_routes
from gateway.agents.tokens import TokenVerifier
from gateway.config import Settings
from gateway.engine.base import Engine, EngineUnavailable
from gateway.engine.ids import is_event_id
from gateway.errors import GatewayError, Unavailable, invalid_payload, unauthorized
from gateway.http.appkeys import ENGINE, JWT_SECRET, LOOPS, METRICS, SETTINGS
from gateway.http.connections import hand_over_to_websocket
from gateway.http.middleware import stamp
from gateway.http.operation import Answer, Operation
from gateway.http.request_id import request_id
from gateway.http.routes import Route, add_routes
from gateway.metrics import Metrics
from gateway.ws.connection import AgentConnection
from gateway.ws.fanout import SessionRouter, fanout_loop, heartbeat_loop
from gateway.ws.frames import (
    CLOSE_SHUTTING_DOWN,
    MAX_CLIENT_FRAME_BYTES,
    NarrowingLimits,
    ResumeQuery,
)
from gateway.ws.presence import (
    HubPresence,
    Presence,
    RosterFeed,
    beat_once,
    get_hub_presence,
    presence_heartbeat_loop,
    reap_loop,
)
from gateway.ws.protocol import Rules
from gateway.ws.state import Signal

SHUTDOWN_REASON = "server shutting down"
TAG = "Agents"
REFUSAL_REASONS = ("unauthenticated_limit", "rate_limited")
_REFUSED_BY_AIOHTTP = {
    int(WSCloseCode.MESSAGE_TOO_BIG): Signal.OVERSIZED,
    int(WSCloseCode.INVALID_TEXT): Signal.INVALID_TEXT,
}


@dataclass
class WsRuntime:
    """What every connection of an app works with."""

    settings: Settings
    engine: Engine
    metrics: Metrics
    rules: Rules
    router: SessionRouter
    presence: Presence
    admitting: set[AgentConnection] = field(default_factory=set)
    """Websockets still waiting for their auth frame (the admitted are in the router)."""
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def wait_for_auth(self, connection: AgentConnection) -> None:
        """Count a websocket that will authenticate by its first frame, or refuse it (HTTP
        503, before the upgrade) when `GATEWAY_WS_MAX_UNAUTHENTICATED` already wait."""
        if len(self.admitting) >= self.settings.ws_max_unauthenticated:
            self.metrics.ws_refused.labels("unauthenticated_limit").inc()
            raise GatewayError(
                "unavailable",
                "Too many websockets are waiting to authenticate; retry later.",
                503,
                {"Retry-After": str(Unavailable.RETRY_AFTER_SECONDS)},
            )
        self.admitting.add(connection)
        self.metrics.ws_unauthenticated.set(len(self.admitting))

    def done_waiting(self, connection: AgentConnection) -> None:
        self.admitting.discard(connection)
        self.metrics.ws_unauthenticated.set(len(self.admitting))

    def keep(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` in a task referenced until it ends (the loop only holds tasks weakly)."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


WS_RUNTIME = web.AppKey("ws_runtime", WsRuntime)


class AgentWebSocket(web.WebSocketResponse[Literal[False]]):
    """aiohttp's websocket, with text frames kept as bytes for the protocol to parse (so
    text that is not UTF-8 is refused like any malformed frame: 4400, or 4001 before
    admission), and with the close aiohttp sends itself from `receive` for a frame it
    refused (1009 over `max_msg_size`; 1007, should it ever check text again) decided by
    the protocol instead: 4001 before admission, 4400 after, as for any frame the gateway
    refuses. Fenced by tests/http/test_aiohttp_canaries.py."""

    __slots__ = ("connection",)  # not in the instance dict: one key more would double it

    def __init__(self, heartbeat_seconds: float) -> None:
        super().__init__(
            heartbeat=heartbeat_seconds,
            compress=False,
            max_msg_size=MAX_CLIENT_FRAME_BYTES,
            decode_text=False,
        )
        self.connection: AgentConnection | None = None

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        signal = _REFUSED_BY_AIOHTTP.get(code)
        if signal is not None and self.connection is not None:
            code, reason = self.connection.refused(signal, code)
            message = reason.encode()
        return await super().close(code=code, message=message, drain=drain)


async def websocket(request: web.Request) -> web.StreamResponse:
    runtime = request.app[WS_RUNTIME]
    rules = runtime.rules
    token = _upgrade_bearer(request)
    grant = None if token is None else rules.verify(token)
    state = rules.admitting(time.time(), _query_last_event_id(request))
    ws = AgentWebSocket(runtime.settings.ws_heartbeat_seconds)
    connection = AgentConnection(runtime, ws, request.transport, uuid.uuid4().hex, state)
    if grant is None:
        runtime.wait_for_auth(connection)  # listed meanwhile: a shutdown closes it too
    stamp(ws, request_id(request))
    try:
        await ws.prepare(request)
    except BaseException:
        runtime.done_waiting(connection)
        raise
    hand_over_to_websocket(request)
    ws.connection = connection
    await connection.serve(None if grant is None else rules.admit(state, grant, None))
    return ws


def _upgrade_bearer(request: web.Request) -> str | None:
    """The upgrade's bearer token; None without an `Authorization` header. A header that is
    there but not a usable `Bearer <token>` is HTTP 401: the client meant to authenticate,
    so it must not be left waiting for an auth frame it will never send."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("The Authorization header must be 'Bearer <agent token>'.")
    return token.strip()


def _query_last_event_id(request: web.Request) -> str | None:
    """`?lastEventId=`: a malformed one is 400 before the upgrade (a resume that cannot be
    honoured should fail loudly, not silently replay nothing)."""
    raw = request.query.get("lastEventId")
    if raw is None or raw == "":
        return None
    if not is_event_id(raw):
        raise invalid_payload("lastEventId is not a gateway event id.")
    return raw


def _runtime(app: web.Application) -> WsRuntime:
    """The JWT settings are checked here, once at start-up: a bad algorithm list or public
    key is a `ConfigError`, not a failure at the first agent's connection."""
    settings = app[SETTINGS]
    verifier = TokenVerifier(
        secret=app[JWT_SECRET],
        public_key_pem=settings.jwt_public_key,
        algorithms=settings.jwt_algorithms,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )
    rules = Rules(
        verify=verifier.verify,
        auth_timeout_seconds=settings.ws_auth_timeout_seconds,
        refresh_grace_seconds=settings.ws_refresh_grace_seconds,
        frames_per_second=settings.ws_client_frames_per_second,
        limits=NarrowingLimits(max_filters=settings.ws_max_filters),
    )
    router = SessionRouter(app[METRICS])
    for reason in REFUSAL_REASONS:
        app[METRICS].ws_refused.labels(reason)
    return WsRuntime(
        settings=settings,
        engine=app[ENGINE],
        metrics=app[METRICS],
        rules=rules,
        router=router,
        presence=Presence(app[ENGINE].presence, router, app[ENGINE].instance_id),
    )


async def _start_loops(app: web.Application) -> None:
    runtime = app[WS_RUNTIME]
    heartbeat = runtime.settings.ws_heartbeat_seconds
    # Where the fan-out and the roster feed start is read before any session can join (a
    # loop's own first read may come late); when the engine is down, each finds it itself.
    start: str | None = None
    with contextlib.suppress(EngineUnavailable):
        start = await runtime.engine.events.last_id()
    app[LOOPS].start("fanout", fanout_loop(runtime.engine.events, runtime.router, start))
    roster_start: str | None = None
    with contextlib.suppress(EngineUnavailable):
        roster_start = (await runtime.presence.store.changes_after(None, 0)).cursor
    with contextlib.suppress(EngineUnavailable):  # the loop beats again soon
        await beat_once(runtime.presence, runtime.router)  # alive before any session joins
    beating = presence_heartbeat_loop(runtime.presence, runtime.router)
    app[LOOPS].start("presence-heartbeat", beating)
    app[LOOPS].start("presence-reaper", reap_loop(runtime.presence))
    roster_feed = RosterFeed(runtime.presence, runtime.router, roster_start)
    app[LOOPS].start("presence-feed", roster_feed.run)
    app[LOOPS].start(
        "ws-heartbeat",
        heartbeat_loop(runtime.router, heartbeat),
        stall_after=max(60.0, 3 * heartbeat),
    )


async def _close_websockets(app: web.Application) -> None:
    runtime = app[WS_RUNTIME]
    connections = [*runtime.router.sessions.values(), *runtime.admitting]
    closing = [connection.close(CLOSE_SHUTTING_DOWN, SHUTDOWN_REASON) for connection in connections]
    await asyncio.gather(*closing, return_exceptions=True)


ROUTES = (
    Route(
        "GET",
        "/ws",
        websocket,
        access="public",
        name="openWebsocket",
        summary="The agent websocket (authenticated by its agent token, not the admin key).",
        operation=Operation(
            TAG,
            (
                Answer(
                    101,
                    "Switching Protocols: the websocket is open. Its frames, close codes "
                    "and limits are described by the AsyncAPI document (docs/asyncapi.yaml) "
                    "and the websocket reference (docs/websocket.md).",
                ),
            ),
            errors=(
                "bad_request",
                "invalid_payload",
                "unauthorized",
                "expired_token",
                "unavailable",
            ),
            query=ResumeQuery,
            security=({"agentToken": []}, {}),
            description="Without `Authorization`, the first frame must be an `auth` frame "
            "carrying the agent token. A request that is not a websocket upgrade is 400 "
            "`bad_request`; a malformed `lastEventId` 400 `invalid_payload`; a bad bearer "
            "token 401 (`unauthorized` or `expired_token`); without `Authorization`, while "
            "`GATEWAY_WS_MAX_UNAUTHENTICATED` websockets already wait for their `auth` frame, "
            "503 `unavailable` with `Retry-After`: each before any upgrade.",
        ),
    ),
    Route(
        "GET",
        "/hubs/{hubId}/presence",
        get_hub_presence,
        access="admin",
        name="getHubPresence",
        summary="Who is connected to a hub, and their status.",
        operation=Operation(
            TAG,
            (Answer(200, "The hub's roster (empty when nobody is connected).", HubPresence),),
            errors=("unavailable",),
        ),
    ),
)


def setup(app: web.Application) -> None:
    app[WS_RUNTIME] = _runtime(app)
    add_routes(app, agent_routes.ROUTES)
    add_routes(app, ROUTES)
    app.on_startup.append(_start_loops)
    app.on_shutdown.append(_close_websockets)
