"""An agent's session as a pure state machine: `Rules.step(state, received, now)` returns the
next state and the actions to carry out, in order.

Like `h11`, and the Sans-I/O protocol of `websockets`, nothing here touches a socket, a clock
or the engine: the connection (`connection.AgentConnection`) feeds in what the client sent,
or that the state's deadline came, with the time, and performs the actions. So every client
frame in every phase is decided here, and tested without sockets::

    ADMITTING ──auth frame or bearer upgrade──▶ REPLAYING ──replayed──▶ LIVE
        └──────────── (no resume, no history) ─────────────────────▶ LIVE
    any phase ──a close, decided here or by the connection──▶ CLOSING ──▶ CLOSED

ADMITTING reads only an `auth` frame, before `deadline`. REPLAYING and LIVE take the same
client frames (a `refresh` must not wait for a long replay); they differ only in how the
fan-out delivers to the session. CLOSING and CLOSED ignore whatever still arrives. Once
admitted, `deadline` is the token's `exp`, then the end of the refresh grace.

Client frames are rate-limited per session by a token bucket (`frames_per_second`, a burst of
`BURST_SECONDS` worth). A frame finding it empty is not acted on; the first one gets an
`error` frame `rate_limited`. The flood "goes on", and the session closes 4429, when after
that warning a further burst's worth of frames is refused, or a frame is refused
`FLOOD_SECONDS` or more after it. The warning is forgotten once the bucket is full again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import orjson
from pydantic import ValidationError

from gateway.agents.tokens import AgentGrant
from gateway.errors import (
    AccessDenied,
    GatewayError,
    TokenError,
    describe_validation_error,
    invalid_payload,
)
from gateway.times import format_seconds
from gateway.ws.frames import (
    AUTH_FRAME,
    CLOSE_UNAUTHENTICATED,
    EXPIRED_FRAME,
    MAX_CLIENT_FRAME_BYTES,
    RATE_LIMITED,
    RATE_LIMITED_FRAME,
    SESSION_FRAME,
    AuthFrame,
    NarrowingLimits,
    RefreshFrame,
    StatusFrame,
    SubscribeFrame,
    close_code_for,
    error_frame,
    gateway_error_frame,
    server_frame,
)
from gateway.ws.scope import granted_scope, regranted
from gateway.ws.state import (
    Action,
    Admit,
    Close,
    FrameBudget,
    Phase,
    Received,
    RecentHistory,
    Regrant,
    Rescope,
    Send,
    SessionState,
    SetStatus,
    Signal,
    Text,
)

BURST_SECONDS = 2.0
FLOOD_SECONDS = 1.0
NOT_AUTH_FRAME = "the first frame must be an auth frame"


Step = tuple[SessionState, list[Action]]


@dataclass(frozen=True)
class Rules:
    """The session's settings, and the transitions between its states."""

    verify: Callable[[str], AgentGrant]
    """An agent token's grant, or `TokenError`."""
    auth_timeout_seconds: float
    refresh_grace_seconds: float
    frames_per_second: float
    limits: NarrowingLimits

    @property
    def burst(self) -> float:
        return self.frames_per_second * BURST_SECONDS

    def admitting(self, now: float, resume_from: str | None = None) -> SessionState:
        """A websocket waiting for its `auth` frame."""
        deadline = now + self.auth_timeout_seconds
        budget = FrameBudget(self.burst, now)
        return SessionState(Phase.ADMITTING, deadline, budget, resume_from=resume_from)

    def step(self, state: SessionState, received: Received, now: float) -> Step:
        if state.phase in (Phase.CLOSING, Phase.CLOSED):
            return state, []
        if received is Signal.TICK:
            return self._tick(state, now)
        if state.phase is Phase.ADMITTING:
            if isinstance(received, Text):
                return self._auth(state, received.data)
            return _close(state, CLOSE_UNAUTHENTICATED, NOT_AUTH_FRAME)
        if received is Signal.OVERSIZED:
            limit = f"A frame may be at most {MAX_CLIENT_FRAME_BYTES} bytes."
            return ended_by(state, invalid_payload(limit), "frame too large")
        if received is Signal.INVALID_TEXT:
            return ended_by(state, invalid_payload("Text frames must be UTF-8."), "malformed frame")
        state, refused = self._count(state, now)
        if refused is not None:
            return state, refused
        if not isinstance(received, Text):
            return ended_by(state, invalid_payload("Frames must be JSON text."), "malformed frame")
        try:
            frame = SESSION_FRAME.validate_json(received.data)
        except ValidationError as exc:
            problem = invalid_payload(describe_validation_error(exc))
            return ended_by(state, problem, "malformed frame")
        if isinstance(frame, SubscribeFrame):
            return self._subscribe(state, frame)
        if isinstance(frame, RefreshFrame):
            return self._refresh(state, frame, now)
        if isinstance(frame, StatusFrame):
            return replace(state, status=frame.status), [SetStatus(frame.status)]
        return state, []  # pong

    def admit(self, state: SessionState, grant: AgentGrant, frame: AuthFrame | None) -> Step:
        """Admission of `grant` (verified from the upgrade's bearer token, or from `frame`).
        Narrowing beyond the token, or over the limits, is refused with an error frame as
        for `subscribe`, and the session opens with the token's whole scope."""
        if not grant.hub_ids:
            no_hub = AccessDenied("The token grants no hub.")
            return ended_by(state, no_hub, "the token grants no hub")
        scope, notes = granted_scope(grant), []
        resume_from, history = state.resume_from, None
        if frame is not None:
            try:
                scope = frame.narrow(grant, scope, self.limits)
            except GatewayError as exc:
                notes.append(Send(gateway_error_frame(exc)))
            resume_from = frame.last_event_id or resume_from
            if resume_from is None and frame.history_seconds is not None:
                history = RecentHistory(frame.history_seconds, frame.history_limit)
        phase = Phase.REPLAYING if resume_from is not None or history is not None else Phase.LIVE
        admitted = replace(state, phase=phase, deadline=grant.expires_at, grant=grant, scope=scope)
        return admitted, [Admit(resume_from, history), *notes]

    def _auth(self, state: SessionState, data: bytes) -> Step:
        """Checks in order: the frame (4001), the token (4001), the fields (4400)."""
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError:
            raw = None
        if not isinstance(raw, dict) or raw.get("type") != "auth":
            return _close(state, CLOSE_UNAUTHENTICATED, NOT_AUTH_FRAME)
        token = raw.get("token")
        if not isinstance(token, str):
            return _close(state, CLOSE_UNAUTHENTICATED, "the auth frame has no token")
        try:
            grant = self.verify(token)
        except TokenError as exc:
            return _close(state, CLOSE_UNAUTHENTICATED, exc.code)
        try:
            frame = AUTH_FRAME.validate_python(raw)
        except ValidationError as exc:
            problem = invalid_payload(describe_validation_error(exc))
            return ended_by(state, problem, "malformed auth frame")
        return self.admit(state, grant, frame)

    def _tick(self, state: SessionState, now: float) -> Step:
        if now < state.deadline:
            return state, []
        if state.phase is Phase.ADMITTING:
            return _close(state, CLOSE_UNAUTHENTICATED, "no auth frame in time")
        if not state.expired:
            grace_over = now + self.refresh_grace_seconds
            return replace(state, expired=True, deadline=grace_over), [Send(EXPIRED_FRAME)]
        return _close(state, CLOSE_UNAUTHENTICATED, "token expired")

    def _count(self, state: SessionState, now: float) -> tuple[SessionState, list[Action] | None]:
        """Take a token for a client frame; the actions instead of acting on the frame when
        the bucket is empty."""
        budget = state.budget
        elapsed = max(0.0, now - budget.counted_at)
        tokens = min(self.burst, budget.tokens + elapsed * self.frames_per_second)
        warned_at, refused = budget.warned_at, budget.refused
        if tokens >= self.burst:
            warned_at, refused = None, 0
        if tokens >= 1.0:
            return replace(state, budget=FrameBudget(tokens - 1.0, now, warned_at, refused)), None
        if warned_at is None:
            state = replace(state, budget=FrameBudget(tokens, now, now))
            return state, [Send(RATE_LIMITED_FRAME)]
        state = replace(state, budget=FrameBudget(tokens, now, warned_at, refused + 1))
        if refused + 1 >= self.burst or now - warned_at >= FLOOD_SECONDS:
            return _close(state, close_code_for(RATE_LIMITED), "rate limited")
        return state, []

    def _subscribe(self, state: SessionState, frame: SubscribeFrame) -> Step:
        """Narrow within the token; asking for more, or over the limits, leaves the session
        as it was."""
        try:
            scope = frame.narrow(state.grant, state.scope, self.limits)
        except GatewayError as exc:
            return state, [Send(gateway_error_frame(exc))]
        subscribed = server_frame("subscribed", **scope.describe())
        return replace(state, scope=scope), [Rescope(state.scope), Send(subscribed)]

    def _refresh(self, state: SessionState, frame: RefreshFrame, now: float) -> Step:
        """A new token for the same agent extends the session (its scope cut to the new
        grant, its presence moved to the new grant's hubs); a bad one changes nothing. A
        token already past its `exp` (verified only within the leeway) would extend
        nothing, so it is bad."""
        try:
            grant = self.verify(frame.token)
        except TokenError as exc:
            return state, [Send(error_frame("unauthorized", exc.message))]
        if grant.expires_at <= now:
            return state, [Send(error_frame("unauthorized", "The token has already expired."))]
        if grant.agent_id != state.grant.agent_id:
            return state, [Send(error_frame("unauthorized", "The token is for another agent."))]
        try:
            scope = regranted(state.scope, grant)
        except AccessDenied as exc:
            return state, [Send(gateway_error_frame(exc))]
        refreshed = server_frame("refreshed", expiresAt=format_seconds(grant.expires_at))
        extended = replace(
            state, grant=grant, scope=scope, deadline=grant.expires_at, expired=False
        )
        return extended, [Rescope(state.scope), Send(refreshed), Regrant()]


def _close(state: SessionState, code: int, reason: str) -> Step:
    return state.closing(), [Close(code, reason)]


def ended_by(state: SessionState, error: GatewayError, reason: str = "") -> Step:
    """The session ends for `error`: the agent is told why, then closed with the code the
    error maps to (also for errors of the connection's own work: the engine's, ...)."""
    return state.closing(), [Send(gateway_error_frame(error)), Close(close_code_for(error), reason)]
