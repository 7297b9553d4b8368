"""What an open session does with each client frame: subscribe, refresh, status, pong."""

from __future__ import annotations

import time

from gateway.errors import AccessDenied, TokenError
from gateway.times import format_seconds
from gateway.ws.frames import (
    PongFrame,
    RefreshFrame,
    SessionFrame,
    StatusFrame,
    SubscribeFrame,
    error_frame,
    gateway_error_frame,
    server_frame,
)
from gateway.ws.runtime import WsRuntime
from gateway.ws.scope import narrowed, regranted
from gateway.ws.session import Session
from gateway.ws.timers import ExpiryTimer


async def handle_frame(
    runtime: WsRuntime, session: Session, expiry: ExpiryTimer, frame: SessionFrame
) -> None:
    if isinstance(frame, SubscribeFrame):
        _subscribe(runtime, session, frame)
    elif isinstance(frame, RefreshFrame):
        await _refresh(runtime, session, expiry, frame)
    elif isinstance(frame, StatusFrame):
        await runtime.presence.status_set(session, frame.status)
    elif isinstance(frame, PongFrame):
        return


def _subscribe(runtime: WsRuntime, session: Session, frame: SubscribeFrame) -> None:
    """Narrow within the token; asking for more leaves the session as it was."""
    try:
        scope = narrowed(
            session.grant, session.scope, frame.hub_ids, frame.conversation_ids, frame.events
        )
    except AccessDenied as exc:
        session.outbox.offer(gateway_error_frame(exc))
        return
    runtime.router.rescope(session, scope)
    session.outbox.offer(server_frame("subscribed", **scope.describe()))


async def _refresh(
    runtime: WsRuntime, session: Session, expiry: ExpiryTimer, frame: RefreshFrame
) -> None:
    """A new token for the same agent extends the session (its scope cut to the new grant,
    its presence moved to the new grant's hubs); a bad one changes nothing. A token already
    past its `exp` (accepted only within the leeway) would extend nothing, so it is bad."""
    try:
        grant = runtime.verifier.verify(frame.token)
    except TokenError as exc:
        session.outbox.offer(error_frame("unauthorized", exc.message))
        return
    if grant.expires_at <= time.time():
        session.outbox.offer(error_frame("unauthorized", "The token has already expired."))
        return
    if grant.agent_id != session.agent_id:
        session.outbox.offer(error_frame("unauthorized", "The token is for another agent."))
        return
    try:
        scope = regranted(session.scope, grant)
    except AccessDenied as exc:
        session.outbox.offer(gateway_error_frame(exc))
        return
    session.grant = grant
    runtime.router.rescope(session, scope)
    expiry.track()
    session.outbox.offer(server_frame("refreshed", expiresAt=format_seconds(grant.expires_at)))
    await runtime.presence.regranted(session, tuple(sorted(grant.hub_ids)))
