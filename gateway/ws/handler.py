"""`GET /ws`: admit the agent, open its session, resume if asked, then serve its frames.

Choices the contract leaves open: a malformed `lastEventId` is HTTP 400 on the upgrade and
an `invalid_payload` error frame plus close 4400 in an auth frame; an auth frame narrowing
beyond its token is, as for `subscribe`, an `access_denied` error frame, and the session
opens with the token's full scope; an `Authorization` header that is not a usable bearer
token is HTTP 401 before the upgrade; a frame the session cannot parse (bad JSON, not an
object, unknown type, wrong fields, binary, a second `auth`) is an `invalid_payload` error
frame and close 4400. Once upgraded, an unexpected error closes 1011 (never an HTTP answer
written into the websocket stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from gateway.agents.tokens import AgentGrant
from gateway.engine.base import EngineUnavailable
from gateway.errors import AccessDenied, GatewayError, describe_validation_error, invalid_payload
from gateway.times import format_seconds
from gateway.ws.closing import close_socket
from gateway.ws.frames import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_TOO_SLOW,
    SESSION_FRAME,
    close_code_for,
    gateway_error_frame,
    server_frame,
)
from gateway.ws.handshake import (
    Admission,
    AgentWebSocket,
    Refusal,
    admit_by_first_frame,
    query_last_event_id,
    require_hubs,
    upgrade_bearer,
)
from gateway.ws.outbox import Outbox
from gateway.ws.resume import RecentHistory, history_cursor, replay
from gateway.ws.runtime import WS_RUNTIME, WsRuntime
from gateway.ws.scope import Scope, granted_scope, narrowed
from gateway.ws.session import Session
from gateway.ws.session_frames import handle_frame
from gateway.ws.timers import ExpiryTimer

log = logging.getLogger("gateway.ws")

MAX_CLIENT_FRAME_BYTES = 64 * 1024
CLOSE_NORMAL = 1000
INTERNAL_ERROR_LOG = "unexpected error on a websocket; closing 1011"


async def websocket(request: web.Request) -> web.WebSocketResponse:
    runtime = request.app[WS_RUNTIME]
    settings = runtime.settings
    grant = _bearer_grant(request, runtime)
    query_resume = query_last_event_id(request)
    ws = AgentWebSocket(
        heartbeat=settings.ws_heartbeat_seconds,
        compress=False,
        max_msg_size=MAX_CLIENT_FRAME_BYTES,
    )
    await ws.prepare(request)
    transport = request.transport
    try:
        if grant is None:
            admission = await _await_auth_frame(runtime, ws, transport)
        else:
            admission = Admission(grant, None, None)
        resume_from = admission.last_event_id or query_resume
        history = None if resume_from is not None else admission.history
        await _serve_session(runtime, ws, transport, admission, resume_from, history)
    except Refusal as refusal:
        if refusal.frame is not None and not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.send_frame(refusal.frame, WSMsgType.TEXT)
        await close_socket(ws, transport, refusal.code, refusal.reason)
    except Exception:
        log.exception(INTERNAL_ERROR_LOG)
        await close_socket(ws, transport, CLOSE_INTERNAL_ERROR, "internal error")
    return ws


def _bearer_grant(request: web.Request, runtime: WsRuntime) -> AgentGrant | None:
    """The upgrade's bearer token, verified (the token itself is not kept); a bad one is a
    `TokenError`, answered HTTP 401 before any upgrade."""
    token = upgrade_bearer(request)
    return None if token is None else runtime.verifier.verify(token)


async def _await_auth_frame(
    runtime: WsRuntime, ws: AgentWebSocket, transport: asyncio.Transport | None
) -> Admission:
    """Listed as pending meanwhile, so a shutdown closes it too."""
    runtime.pending[ws] = transport
    try:
        return await admit_by_first_frame(
            ws, runtime.verifier, runtime.settings.ws_auth_timeout_seconds
        )
    finally:
        runtime.pending.pop(ws, None)


def _admitted_scope(admission: Admission) -> tuple[Scope, bytes | None]:
    """The session's scope, and the `access_denied` frame to send when the auth frame asked
    beyond its token (the session then keeps the token's full scope, as `subscribe` does)."""
    require_hubs(admission.grant)
    scope = granted_scope(admission.grant)
    narrowing = admission.narrowing
    if narrowing is None:
        return scope, None
    try:
        return narrowed(
            admission.grant,
            scope,
            narrowing.hub_ids,
            narrowing.conversation_ids,
            narrowing.events,
        ), None
    except AccessDenied as exc:
        return scope, gateway_error_frame(exc)


async def _serve_session(
    runtime: WsRuntime,
    ws: web.WebSocketResponse,
    transport: asyncio.Transport | None,
    admission: Admission,
    resume_from: str | None,
    history: RecentHistory | None,
) -> None:
    settings = runtime.settings
    grant = admission.grant
    scope, denial = _admitted_scope(admission)

    def too_slow() -> None:
        """Called from inside the fan-out loop's walk over a hub's sessions: the index is
        left alone until that walk is over."""
        runtime.metrics.ws_slow_disconnects.inc()
        log.warning("session too slow; closing 4008", extra=_log_fields(session))
        session.close(CLOSE_TOO_SLOW, "too slow")
        asyncio.get_running_loop().call_soon(runtime.router.remove, session)

    session = Session(
        session_id=uuid.uuid4().hex,
        grant=grant,
        scope=scope,
        ws=ws,
        transport=transport,
        outbox=Outbox(ws, transport, settings.ws_max_backlog_bytes, too_slow),
        presence_hubs=tuple(sorted(grant.hub_ids)),
        replaying=resume_from is not None or history is not None,
    )
    session.outbox.offer(
        server_frame(
            "ready",
            sessionId=session.session_id,
            agentId=grant.agent_id,
            hubIds=sorted(scope.hub_ids),
            expiresAt=format_seconds(grant.expires_at),
            heartbeatSeconds=settings.ws_heartbeat_seconds,
            **_live_from(runtime),
        )
    )
    if denial is not None:
        session.outbox.offer(denial)
    runtime.router.add(session)
    log.debug("session opened", extra=_log_fields(session))
    expiry = ExpiryTimer(session, settings.ws_refresh_grace_seconds)
    close_code = CLOSE_NORMAL
    try:
        await runtime.presence.joined(session)
        if history is not None:
            now_ms = time.time_ns() // 1_000_000
            resume_from = await history_cursor(session, runtime.engine.events, history, now_ms)
        if resume_from is not None:
            await replay(session, runtime.engine.events, resume_from, settings.ws_max_backlog_bytes)
        close_code = await _serve_frames(runtime, session, expiry)
    except GatewayError as exc:
        close_code = _ended_by(session, exc)
    except Exception:
        log.exception(INTERNAL_ERROR_LOG, extra=_log_fields(session))
        close_code = CLOSE_INTERNAL_ERROR
    finally:
        expiry.cancel()
        runtime.router.remove(session)
        ending = runtime.keep(_end_session(runtime, session, close_code))
        await asyncio.shield(ending)


def _live_from(runtime: WsRuntime) -> dict[str, str]:
    """`lastEventId` for the `ready` frame: where a reconnection resumes from if this session
    delivers no event before it drops (read in the same step as the session joins the
    router, so no event falls between)."""
    live_from = runtime.router.live_from
    return {} if live_from is None else {"lastEventId": live_from}


def _log_fields(session: Session) -> dict[str, str]:
    return {"sessionId": session.session_id, "agentId": session.agent_id}


async def _end_session(runtime: WsRuntime, session: Session, close_code: int) -> None:
    """Close and leave presence in a task of its own: it must complete even when the
    server cancels the handler because the client vanished."""
    await session.close(close_code, "")
    log.debug("session closed", extra={**_log_fields(session), "closeCode": session.ws.close_code})
    try:
        await runtime.presence.left(session)
    except EngineUnavailable:
        log.warning("engine unavailable; presence of %s not cleared", session.session_id)


async def _serve_frames(runtime: WsRuntime, session: Session, expiry: ExpiryTimer) -> int:
    """Read client frames until the socket closes; the close code if a frame ends it."""
    async for message in session.ws:
        if message.type is WSMsgType.TEXT:
            try:
                frame = SESSION_FRAME.validate_json(message.data)
            except ValidationError as exc:
                return _ended_by(session, invalid_payload(describe_validation_error(exc)))
            await handle_frame(runtime, session, expiry, frame)
        elif message.type is WSMsgType.BINARY:
            return _ended_by(session, invalid_payload("Frames must be JSON text."))
        else:
            break
    return CLOSE_NORMAL


def _ended_by(session: Session, error: GatewayError) -> int:
    """Tell the agent what ended its session; the close code that goes with it."""
    session.outbox.offer(gateway_error_frame(error))
    return close_code_for(error)
