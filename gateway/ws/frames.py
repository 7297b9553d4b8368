"""The websocket's frames (docs/websocket.md): client frames parsed strictly, server frames
as bytes.

An event frame wraps the stored payload bytes without decoding them, so the fan-out encodes
each event once and hands the same bytes object to every session.

A `GatewayError` reaches an agent as an `error` frame with its code and message; one that
ends the session closes it with the code `close_code_for` maps it to: this is the one
error-to-close mapping of the websocket.

Client input is bounded before anything is kept of it: a frame is at most
`MAX_CLIENT_FRAME_BYTES`, and the lists a `subscribe` or `auth` frame narrows with are held
to `NarrowingLimits` (checked apart from the frame's shape, because a list over a limit is
refused with the session left as it was, where a malformed frame ends the session).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from gateway.agents.tokens import AgentGrant
from gateway.engine.ids import EVENT_ID_PATTERN
from gateway.errors import GatewayError, invalid_payload
from gateway.events.filters import EventFilter
from gateway.ws.scope import Scope, narrowed

CLOSE_NORMAL = 1000
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SHUTTING_DOWN = 1012
CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_TOO_SLOW = 4008
CLOSE_MALFORMED = 4400
CLOSE_RATE_LIMITED = 4429

_CLOSE_CODES = {
    "unauthorized": CLOSE_UNAUTHENTICATED,
    "expired_token": CLOSE_UNAUTHENTICATED,
    "access_denied": CLOSE_FORBIDDEN,
    "invalid_payload": CLOSE_MALFORMED,
    "rate_limited": CLOSE_RATE_LIMITED,
}

MAX_CLIENT_FRAME_BYTES = 64 * 1024
"""The largest client frame read (aiohttp refuses a longer one before it is buffered whole):
an `auth` frame with a token and its narrowing fits many times over."""

MAX_HISTORY_EVENTS = 1000
"""The most events an `auth` frame's `historyLimit` may ask for: a page's first view, not an
export (subscriber replay is the tool for bulk history)."""

MAX_FILTER_CHARS = 128
"""The longest event-type filter (`family:name`): every real type is far shorter."""

MAX_NARROWING_IDS = 1000
"""The most entries in `hubIds` or `conversationIds`: as many hubs as `PUT /agent/auth` may
grant, and a dashboard's worth of conversations (each id is at most 200 characters)."""

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EventId = Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN)]
Status = Literal["available", "busy", "unavailable"]


@dataclass(frozen=True, slots=True)
class NarrowingLimits:
    max_filters: int
    max_filter_chars: int = MAX_FILTER_CHARS
    max_ids: int = MAX_NARROWING_IDS


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Narrowing(_Frame):
    """The optional narrowing fields shared by `auth` and `subscribe`."""

    hub_ids: list[Identifier] | None = Field(None, alias="hubIds", min_length=1)
    conversation_ids: list[Identifier] | None = Field(None, alias="conversationIds", min_length=1)
    events: list[EventFilter] | None = Field(None, min_length=1)

    def narrow(self, grant: AgentGrant, current: Scope, limits: NarrowingLimits) -> Scope:
        """`current` narrowed by these fields within `grant`: `invalid_payload` over the
        limits, `AccessDenied` beyond the grant."""
        problem = self._beyond(limits)
        if problem is not None:
            raise invalid_payload(problem)
        return narrowed(grant, current, self.hub_ids, self.conversation_ids, self.events)

    def _beyond(self, limits: NarrowingLimits) -> str | None:
        for name, ids in (("hubIds", self.hub_ids), ("conversationIds", self.conversation_ids)):
            if ids is not None and len(ids) > limits.max_ids:
                return f"{name}: at most {limits.max_ids} ids"
        if self.events is None:
            return None
        if len(self.events) > limits.max_filters:
            return f"events: at most {limits.max_filters} filters"
        for index, value in enumerate(self.events):
            if len(value) > limits.max_filter_chars:
                return f"events.{index}: a filter is at most {limits.max_filter_chars} characters"
        return None


class ResumeQuery(BaseModel):
    """`GET /ws?lastEventId=`: resume after this event (the upgrade checks the same
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


PING_FRAME = b'{"type":"ping"}'
EXPIRED_FRAME = error_frame(
    "expired_token", "The token has expired; send a refresh frame with a new token."
)
RATE_LIMITED = GatewayError(
    "rate_limited",
    "Too many frames: frames are ignored until the rate drops; "
    "the session closes 4429 if the flood goes on.",
    429,
)
RATE_LIMITED_FRAME = gateway_error_frame(RATE_LIMITED)

_FIN_TEXT = 0x81


def wire_text_frame(payload: bytes) -> bytes:
    """A whole unmasked server text frame, header and payload in one bytes object: the
    fan-out makes it once per event and writes the same object to every session."""
    return text_frame_header(len(payload)) + payload


def text_frame_header(length: int) -> bytes:
    """The header of an unmasked server text frame of `length` bytes (RFC 6455 §5.2)."""
    if length < 126:
        return struct.pack("!BB", _FIN_TEXT, length)
    if length < 65536:
        return struct.pack("!BBH", _FIN_TEXT, 126, length)
    return struct.pack("!BBQ", _FIN_TEXT, 127, length)
