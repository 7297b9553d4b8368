"""The websocket's frames (contract §5): client frames parsed strictly, server frames as bytes.

An event frame wraps the stored payload bytes without decoding them, so the fan-out encodes
each event once and hands the same bytes object to every session.

A `GatewayError` reaches an agent as an `error` frame with its code and message; one that
ends the session closes it with the code `close_code_for` maps it to.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from gateway.engine.ids import EVENT_ID_PATTERN
from gateway.errors import GatewayError
from gateway.events.filters import EventFilter

CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_TOO_SLOW = 4008
CLOSE_MALFORMED = 4400
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SHUTTING_DOWN = 1012

_CLOSE_CODES = {
    "unauthorized": CLOSE_UNAUTHENTICATED,
    "expired_token": CLOSE_UNAUTHENTICATED,
    "access_denied": CLOSE_FORBIDDEN,
    "invalid_payload": CLOSE_MALFORMED,
}

MAX_HISTORY_EVENTS = 1000
"""The most events an `auth` frame's `historyLimit` may ask for: a page's first view, not an
export (subscriber replay is the tool for bulk history)."""

PING_FRAME = b'{"type":"ping"}'

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EventId = Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN)]
Status = Literal["available", "busy", "unavailable"]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Narrowing(_Frame):
    """The optional narrowing fields shared by `auth` and `subscribe`."""

    hub_ids: list[Identifier] | None = Field(None, alias="hubIds", min_length=1)
    conversation_ids: list[Identifier] | None = Field(None, alias="conversationIds", min_length=1)
    events: list[EventFilter] | None = Field(None, min_length=1)


class ResumeQuery(BaseModel):
    """`GET /ws?lastEventId=`: resume after this event (the handshake checks the same
    pattern)."""

    lastEventId: EventId | None = Field(
        None, description="Resume after this event: replay what came since, then go live."
    )


class AuthFrame(Narrowing):
    type: Literal["auth"]
    token: str
    last_event_id: EventId | None = Field(None, alias="lastEventId")
    history_seconds: float | None = Field(
        None, alias="historySeconds", gt=0, le=10 * 365 * 86400, allow_inf_nan=False
    )
    """A first connection's recent history: the events of the last this many seconds that
    the session may see (as far back as the gateway still holds), newest `historyLimit` of
    them, replayed like a resume. Ignored when `lastEventId` is given."""
    history_limit: int = Field(200, alias="historyLimit", ge=1, le=MAX_HISTORY_EVENTS)


class SubscribeFrame(Narrowing):
    type: Literal["subscribe"]


class RefreshFrame(_Frame):
    type: Literal["refresh"]
    token: str


class StatusFrame(_Frame):
    type: Literal["status"]
    status: Status


class PongFrame(_Frame):
    type: Literal["pong"]


SessionFrame = Annotated[
    SubscribeFrame | RefreshFrame | StatusFrame | PongFrame, Field(discriminator="type")
]
SESSION_FRAME: TypeAdapter[SessionFrame] = TypeAdapter(SessionFrame)
AUTH_FRAME: TypeAdapter[AuthFrame] = TypeAdapter(AuthFrame)


def event_frame(payload: bytes) -> bytes:
    return b'{"type":"event","event":' + payload + b"}"


def server_frame(frame_type: str, **fields: Any) -> bytes:
    return orjson.dumps({"type": frame_type, **fields})


def error_frame(code: str, message: str) -> bytes:
    return server_frame("error", error={"code": code, "message": message})


def gateway_error_frame(error: GatewayError) -> bytes:
    return error_frame(error.code, error.message)


def close_code_for(error: GatewayError) -> int:
    """The close code of a session ended by `error`: the client's fault by its code; any
    other error (`unavailable`, ...) is the server's, 1011."""
    return _CLOSE_CODES.get(error.code, CLOSE_INTERNAL_ERROR)
