"""Admission to a session: a bearer token on the upgrade, or an `auth` first frame.

A refusal carries the `GatewayError` that refused the agent; the handler closes with the
code it maps to (`frames.close_code_for`). Checks run in the contract's order: token (4001),
grant (4003), fields (4400).
Before admission every frame that is not a usable `auth` frame closes 4001, including those
aiohttp rejects itself (invalid UTF-8, over the size limit), see `AgentWebSocket`.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from gateway.agents.tokens import AgentGrant, TokenVerifier
from gateway.engine.ids import is_event_id
from gateway.errors import (
    AccessDenied,
    GatewayError,
    TokenError,
    describe_validation_error,
    invalid_payload,
    unauthorized,
)
from gateway.ws.frames import (
    AUTH_FRAME,
    CLOSE_UNAUTHENTICATED,
    Narrowing,
    close_code_for,
    gateway_error_frame,
)
from gateway.ws.resume import RecentHistory

_PROTOCOL_DATA_ERRORS = frozenset({WSCloseCode.INVALID_TEXT, WSCloseCode.MESSAGE_TOO_BIG})
NOT_AUTH_FRAME = "the first frame must be an auth frame"


class AgentWebSocket(web.WebSocketResponse):
    """A websocket that, while `admitting`, closes 4001 where aiohttp itself would close a
    bad frame 1007 (invalid UTF-8) or 1009 (too big): the contract makes any frame before
    the auth frame a 4001. aiohttp sends that close from inside `receive`, hence the hook."""

    admitting = False

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        if self.admitting and code in _PROTOCOL_DATA_ERRORS:
            code, message = CLOSE_UNAUTHENTICATED, NOT_AUTH_FRAME.encode()
        return await super().close(code=code, message=message, drain=drain)


class Refusal(Exception):
    """Admission refused by `error`: closed with the code it maps to and `reason` (the
    error's message unless given), after an error frame explaining it, except for an
    authentication failure, which closes 4001 at once."""

    def __init__(self, error: GatewayError, reason: str | None = None) -> None:
        self.reason = reason or error.message
        super().__init__(self.reason)
        self.code = close_code_for(error)
        self.frame = None if self.code == CLOSE_UNAUTHENTICATED else gateway_error_frame(error)


@dataclass(frozen=True)
class Admission:
    grant: AgentGrant
    narrowing: Narrowing | None
    last_event_id: str | None
    history: RecentHistory | None = None


def upgrade_bearer(request: web.Request) -> str | None:
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


def query_last_event_id(request: web.Request) -> str | None:
    """`?lastEventId=`: a malformed one is 400 before the upgrade (a resume that cannot be
    honoured should fail loudly, not silently replay nothing)."""
    raw = request.query.get("lastEventId")
    if raw is None or raw == "":
        return None
    if not is_event_id(raw):
        raise invalid_payload("lastEventId is not a gateway event id.")
    return raw


async def admit_by_first_frame(
    ws: AgentWebSocket, verifier: TokenVerifier, within_seconds: float
) -> Admission:
    ws.admitting = True
    try:
        message = await ws.receive(timeout=within_seconds)
    except TimeoutError:
        raise Refusal(unauthorized("no auth frame in time")) from None
    finally:
        ws.admitting = False
    if message.type is not WSMsgType.TEXT:
        raise Refusal(unauthorized(NOT_AUTH_FRAME))
    try:
        data = orjson.loads(message.data)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("type") != "auth":
        raise Refusal(unauthorized(NOT_AUTH_FRAME))
    token = data.get("token")
    if not isinstance(token, str):
        raise Refusal(unauthorized("the auth frame has no token"))
    try:
        grant = verifier.verify(token)
    except TokenError as exc:
        raise Refusal(exc, reason=exc.code) from None
    try:
        frame = AUTH_FRAME.validate_python(data)
    except ValidationError as exc:
        problem = invalid_payload(describe_validation_error(exc))
        raise Refusal(problem, reason="malformed auth frame") from None
    history = None
    if frame.history_seconds is not None and frame.last_event_id is None:
        history = RecentHistory(frame.history_seconds, frame.history_limit)
    return Admission(grant, frame, frame.last_event_id, history)


def require_hubs(grant: AgentGrant) -> None:
    if not grant.hub_ids:
        raise Refusal(AccessDenied("The token grants no hub."), reason="the token grants no hub")
