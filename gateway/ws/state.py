"""What a session is, and what passes between its protocol and its connection (as h11 keeps
its events apart from its state machine): the phase and state of a session, what the
connection feeds the protocol (`Received`), and what the protocol asks of the connection
(`Action`), carried out in order.

All of it immutable: a step of `protocol.Rules` replaces the state, so the state the fan-out
reads is always one the rules produced.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from gateway.agents.tokens import AgentGrant
from gateway.ws.frames import Status
from gateway.ws.scope import Scope


class Phase(enum.Enum):
    ADMITTING = "admitting"
    REPLAYING = "replaying"
    LIVE = "live"
    CLOSING = "closing"
    CLOSED = "closed"


# What the connection feeds in: a text frame's bytes, or one of the signals.
@dataclass(frozen=True, slots=True)
class Text:
    data: bytes


class Signal(enum.Enum):
    BINARY = "a binary frame"
    OVERSIZED = "a frame over MAX_CLIENT_FRAME_BYTES, refused by aiohttp before it was read"
    INVALID_TEXT = "a text frame that is not UTF-8, refused by aiohttp"
    TICK = "the state's deadline may have come"


Received = Text | Signal


# What the connection does, in order.
@dataclass(frozen=True, slots=True)
class Send:
    frame: bytes


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class RecentHistory:
    seconds: float
    limit: int


@dataclass(frozen=True, slots=True)
class Admit:
    """The session opens (`ready`, presence), then replays from `resume_from` or `history`
    when either is set (the state is then REPLAYING)."""

    resume_from: str | None
    history: RecentHistory | None


@dataclass(frozen=True, slots=True)
class Rescope:
    """The state's scope replaced `previous`: the fan-out's index follows."""

    previous: Scope


@dataclass(frozen=True, slots=True)
class SetStatus:
    status: Status


@dataclass(frozen=True, slots=True)
class Regrant:
    """The state's grant changed: presence moves to its hubs."""


Action = Send | Close | Admit | Rescope | SetStatus | Regrant


@dataclass(frozen=True, slots=True)
class FrameBudget:
    """The client-frame bucket: `tokens` as counted at `counted_at`, and the warning."""

    tokens: float
    counted_at: float
    warned_at: float | None = None
    refused: int = 0
    """Frames refused since the warning."""


NO_GRANT = AgentGrant("", None, frozenset(), None, 0.0)
NO_SCOPE = Scope(frozenset(), frozenset())


@dataclass(frozen=True, slots=True)
class SessionState:
    phase: Phase
    deadline: float
    budget: FrameBudget
    grant: AgentGrant = NO_GRANT
    scope: Scope = NO_SCOPE
    """What the fan-out delivers: NO_SCOPE (nothing) until admitted."""
    status: Status = "available"
    expired: bool = False
    """`expired_token` was sent; `deadline` is the end of the refresh grace."""
    resume_from: str | None = None
    """The upgrade's `?lastEventId=`, until admission (an auth frame's own one wins)."""
    takes_every_event: bool = field(init=False, repr=False, compare=False)
    """Live, with a scope of whole hubs (no conversation or type narrowing): the fan-out,
    which routes an event only to the sessions of its hub, then sends it without looking
    at the scope. Worked out here, once per state, for `AgentConnection.deliver`, which
    runs once per event per session."""

    def __post_init__(self) -> None:
        takes_every_event = self.phase is Phase.LIVE and self.scope.whole_hubs
        object.__setattr__(self, "takes_every_event", takes_every_event)

    def replayed(self) -> SessionState:
        return replace(self, phase=Phase.LIVE) if self.phase is Phase.REPLAYING else self

    def closing(self) -> SessionState:
        done = self.phase in (Phase.CLOSING, Phase.CLOSED)
        return self if done else replace(self, phase=Phase.CLOSING)

    def closed(self) -> SessionState:
        return replace(self, phase=Phase.CLOSED)
