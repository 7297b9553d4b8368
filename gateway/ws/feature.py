"""The agent feature: `PUT /agent/auth`, `GET /ws`, `GET /hubs/{hubId}/presence`, the
fan-out loop, the presence loops (heartbeat, reaper, roster feed), and closing every
websocket with 1012 when the server shuts down."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from gateway.agents import routes as agent_routes
from gateway.agents.tokens import TokenVerifier
from gateway.engine.base import EngineUnavailable
from gateway.http.appkeys import ENGINE, JWT_SECRET, LOOPS, METRICS, SETTINGS
from gateway.http.operation import Answer, Operation
from gateway.http.routes import Route, add_routes
from gateway.ws.closing import close_socket
from gateway.ws.fanout import fanout_loop
from gateway.ws.frames import CLOSE_SHUTTING_DOWN, ResumeQuery
from gateway.ws.handler import websocket
from gateway.ws.presence import HubPresence, Presence, roster_detail, status_counts
from gateway.ws.presence_sync import RosterFeed, beat_once, presence_heartbeat_loop, reap_loop
from gateway.ws.router import SessionRouter
from gateway.ws.runtime import WS_RUNTIME, WsRuntime
from gateway.ws.timers import heartbeat_loop

SHUTDOWN_REASON = "server shutting down"
TAG = "Agents"


def _verifier(app: web.Application) -> TokenVerifier:
    """The JWT settings, checked once at start-up: a bad algorithm list or public key is a
    `ConfigError`, not a failure at the first agent's connection."""
    settings = app[SETTINGS]
    return TokenVerifier(
        secret=app[JWT_SECRET],
        public_key_pem=settings.jwt_public_key,
        algorithms=settings.jwt_algorithms,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


def _runtime(app: web.Application) -> WsRuntime:
    settings = app[SETTINGS]
    verifier = _verifier(app)
    router = SessionRouter(app[METRICS])
    return WsRuntime(
        settings=settings,
        engine=app[ENGINE],
        metrics=app[METRICS],
        verifier=verifier,
        router=router,
        presence=Presence(app[ENGINE].presence, router, app[ENGINE].instance_id),
    )


async def _start_loops(app: web.Application) -> None:
    runtime = app[WS_RUNTIME]
    heartbeat = runtime.settings.ws_heartbeat_seconds
    app[LOOPS].start("fanout", fanout_loop(runtime.engine.events, runtime.router))
    with contextlib.suppress(EngineUnavailable):  # the loop beats again soon
        await beat_once(runtime.presence, runtime.router)  # alive before any session joins
    beating = presence_heartbeat_loop(runtime.presence, runtime.router)
    app[LOOPS].start("presence-heartbeat", beating)
    app[LOOPS].start("presence-reaper", reap_loop(runtime.presence))
    app[LOOPS].start("presence-feed", RosterFeed(runtime.presence, runtime.router).run)
    app[LOOPS].start(
        "ws-heartbeat",
        heartbeat_loop(runtime.router, heartbeat),
        stall_after=max(60.0, 3 * heartbeat),
    )


async def _close_websockets(app: web.Application) -> None:
    runtime = app[WS_RUNTIME]
    sessions = list(runtime.router.sessions.values())
    closing = [session.close(CLOSE_SHUTTING_DOWN, SHUTDOWN_REASON) for session in sessions]
    for ws, transport in list(runtime.pending.items()):
        closing.append(
            asyncio.ensure_future(close_socket(ws, transport, CLOSE_SHUTTING_DOWN, SHUTDOWN_REASON))
        )
    await asyncio.gather(*closing, return_exceptions=True)


async def get_hub_presence(request: web.Request) -> web.Response:
    """Who is connected to a hub, and their status."""
    hub_id = request.match_info["hubId"]
    agents = await request.app[ENGINE].presence.agents(hub_id)
    return web.json_response(
        {
            "hubId": hub_id,
            "counts": status_counts(agents),
            "agents": [roster_detail(agent) for agent in agents],
        }
    )


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
            errors=("bad_request", "invalid_payload", "unauthorized", "expired_token"),
            query=ResumeQuery,
            security=({"agentToken": []}, {}),
            description="Without `Authorization`, the first frame must be an `auth` frame "
            "carrying the agent token. A request that is not a websocket upgrade is 400 "
            "`bad_request`; a malformed `lastEventId` 400 `invalid_payload`; a bad bearer "
            "token 401 (`unauthorized` or `expired_token`), before any upgrade.",
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
