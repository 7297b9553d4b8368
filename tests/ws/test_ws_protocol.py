"""The session's protocol without sockets: every client frame (and the clock) in every phase,
table-driven, then the transitions that take more than one step.

The tokens are real (HS256, verified by the gateway's own `TokenVerifier`); the states are
built with the protocol's own transitions, as a connection would reach them."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import orjson
import pytest
from ws_helpers import JWT_SECRET, agent_token

from gateway.agents.tokens import TokenVerifier
from gateway.ws.frames import MAX_FILTER_CHARS, MAX_NARROWING_IDS, NarrowingLimits
from gateway.ws.protocol import Rules
from gateway.ws.state import (
    Action,
    Admit,
    Close,
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

NOW = time.time()
GRACE = 25.0
AUTH_TIMEOUT = 10.0
# Tokens made at import: long-lived, since the whole suite may run before these tests do.
ANN = agent_token("ann", ["hub-a", "hub-b"], ttl=3600)

RULES = Rules(
    verify=TokenVerifier(
        secret=JWT_SECRET,
        public_key_pem=None,
        algorithms=["HS256"],
        audience="gateway",
        leeway_seconds=30,
    ).verify,
    auth_timeout_seconds=AUTH_TIMEOUT,
    refresh_grace_seconds=GRACE,
    frames_per_second=20,
    limits=NarrowingLimits(max_filters=3),
)
BURST = 40
FILTERS = ["message", "receipt", "event", "consent"]


def text(frame: dict[str, Any]) -> Text:
    return Text(orjson.dumps(frame))


def in_phase(phase: Phase) -> SessionState:
    """A session of ann (hubs a and b) in `phase`, reached through the protocol itself."""
    admitting = RULES.admitting(NOW)
    if phase is Phase.ADMITTING:
        return admitting
    resume = {"lastEventId": "0000000000001-000000"} if phase is Phase.REPLAYING else {}
    state, _ = RULES.step(admitting, text({"type": "auth", "token": ANN, **resume}), NOW)
    assert state.phase is (Phase.REPLAYING if resume else Phase.LIVE)
    if phase is Phase.CLOSING:
        return state.closing()
    if phase is Phase.CLOSED:
        return state.closing().closed()
    return state


def described(actions: list[Action]) -> list[str]:
    """Actions as short strings: `Send:error:access_denied`, `Close:4001`, `Admit`, ..."""
    names = []
    for action in actions:
        if isinstance(action, Send):
            frame = orjson.loads(action.frame)
            code = frame["error"]["code"] if frame["type"] == "error" else None
            names.append(f"Send:{frame['type']}" + (f":{code}" if code else ""))
        elif isinstance(action, Close):
            names.append(f"Close:{action.code}")
        elif isinstance(action, SetStatus):
            names.append(f"SetStatus:{action.status}")
        else:
            names.append(type(action).__name__)
    return names


INPUTS: dict[str, Received] = {
    "auth": text({"type": "auth", "token": ANN}),
    "auth-bad-token": text({"type": "auth", "token": "garbage"}),
    "auth-no-hub": text({"type": "auth", "token": agent_token("ann", [], ttl=3600)}),
    "auth-bad-field": text({"type": "auth", "token": ANN, "lastEventId": "12-3"}),
    "auth-too-many-filters": text({"type": "auth", "token": ANN, "events": FILTERS}),
    "subscribe": text({"type": "subscribe", "hubIds": ["hub-a"], "events": ["message"]}),
    "subscribe-beyond": text({"type": "subscribe", "hubIds": ["hub-z"]}),
    "subscribe-too-many-filters": text({"type": "subscribe", "events": FILTERS}),
    "subscribe-long-filter": text(
        {"type": "subscribe", "events": ["message:" + "x" * (MAX_FILTER_CHARS - 7)]}
    ),
    "subscribe-too-many-ids": text(
        {"type": "subscribe", "conversationIds": [f"c{n}" for n in range(MAX_NARROWING_IDS + 1)]}
    ),
    "refresh": text({"type": "refresh", "token": agent_token("ann", ["hub-a"], ttl=5400)}),
    "refresh-bad": text({"type": "refresh", "token": "garbage"}),
    "refresh-other-agent": text(
        {"type": "refresh", "token": agent_token("bob", ["hub-a"], ttl=3600)}
    ),
    "refresh-expired": text({"type": "refresh", "token": agent_token("ann", ["hub-a"], ttl=-5)}),
    "refresh-no-common-hub": text(
        {"type": "refresh", "token": agent_token("ann", ["hub-z"], ttl=3600)}
    ),
    "status": text({"type": "status", "status": "busy"}),
    "pong": text({"type": "pong"}),
    "not-json": Text(b"{not json"),
    "not-utf8": Text(b'{"type": "pong", "x": "\xff"}'),
    "unknown-type": text({"type": "dance"}),
    "binary": Signal.BINARY,
    "oversized": Signal.OVERSIZED,
    "invalid-text": Signal.INVALID_TEXT,
    "tick": Signal.TICK,
}

ADMITTED = {
    "auth": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "auth-bad-token": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "auth-no-hub": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "auth-bad-field": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "auth-too-many-filters": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "subscribe": ("same", ["Rescope", "Send:subscribed"]),
    "subscribe-beyond": ("same", ["Send:error:access_denied"]),
    "subscribe-too-many-filters": ("same", ["Send:error:invalid_payload"]),
    "subscribe-long-filter": ("same", ["Send:error:invalid_payload"]),
    "subscribe-too-many-ids": ("same", ["Send:error:invalid_payload"]),
    "refresh": ("same", ["Rescope", "Send:refreshed", "Regrant"]),
    "refresh-bad": ("same", ["Send:error:unauthorized"]),
    "refresh-other-agent": ("same", ["Send:error:unauthorized"]),
    "refresh-expired": ("same", ["Send:error:unauthorized"]),
    "refresh-no-common-hub": ("same", ["Send:error:access_denied"]),
    "status": ("same", ["SetStatus:busy"]),
    "pong": ("same", []),
    "not-json": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "not-utf8": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "unknown-type": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "binary": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "oversized": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "invalid-text": (None, ["Send:error:invalid_payload", "Close:4400"]),
    "tick": ("same", []),
}
"""REPLAYING and LIVE alike: (the phase after, `same` or None for CLOSING; the actions)."""

ADMITTING = {
    "auth": (Phase.LIVE, ["Admit"]),
    "auth-bad-token": (Phase.CLOSING, ["Close:4001"]),
    "auth-no-hub": (Phase.CLOSING, ["Send:error:access_denied", "Close:4003"]),
    "auth-bad-field": (Phase.CLOSING, ["Send:error:invalid_payload", "Close:4400"]),
    "auth-too-many-filters": (Phase.LIVE, ["Admit", "Send:error:invalid_payload"]),
    **{
        name: (Phase.CLOSING, ["Close:4001"])
        for name in INPUTS
        if not name.startswith("auth") and name != "tick"
    },
    "tick": (Phase.ADMITTING, []),
}

TABLE = [
    *[(Phase.ADMITTING, name, *expected) for name, expected in ADMITTING.items()],
    *[
        (phase, name, phase if after == "same" else Phase.CLOSING, actions)
        for phase in (Phase.REPLAYING, Phase.LIVE)
        for name, (after, actions) in ADMITTED.items()
    ],
    *[(phase, name, phase, []) for phase in (Phase.CLOSING, Phase.CLOSED) for name in INPUTS],
]


def test_the_table_covers_every_input_in_every_phase() -> None:
    assert {(phase, name) for phase, name, _, _ in TABLE} == {
        (phase, name) for phase in Phase for name in INPUTS
    }


@pytest.mark.parametrize(
    ("phase", "name", "after", "actions"),
    TABLE,
    ids=[f"{phase.value}-{name}" for phase, name, _, _ in TABLE],
)
def test_every_input_in_every_phase(
    phase: Phase, name: str, after: Phase, actions: list[str]
) -> None:
    state, done = RULES.step(in_phase(phase), INPUTS[name], NOW + 1)
    assert (state.phase, described(done)) == (after, actions)


def test_the_deadline_closes_an_admitting_websocket_4001_and_not_before() -> None:
    state = RULES.admitting(NOW)
    assert RULES.step(state, Signal.TICK, NOW + AUTH_TIMEOUT - 0.001) == (state, [])
    closed, actions = RULES.step(state, Signal.TICK, NOW + AUTH_TIMEOUT)
    assert closed.phase is Phase.CLOSING
    assert actions == [Close(4001, "no auth frame in time")]


def test_admission_by_auth_frame_narrows_and_asks_for_the_replay() -> None:
    state = RULES.admitting(NOW, resume_from="0000000000001-000000")
    auth = {"type": "auth", "token": ANN, "hubIds": ["hub-b"], "events": ["receipt"]}
    admitted, actions = RULES.step(state, text(auth), NOW)
    assert actions == [Admit("0000000000001-000000", None)]
    assert admitted.phase is Phase.REPLAYING
    assert admitted.scope.hub_ids == {"hub-b"}
    assert admitted.scope.events == ("receipt",)
    assert admitted.grant.agent_id == "ann"
    assert admitted.deadline == admitted.grant.expires_at

    own = {"type": "auth", "token": ANN, "lastEventId": "0000000000002-000000"}
    assert RULES.step(state, text(own), NOW)[1] == [Admit("0000000000002-000000", None)]
    history = {"type": "auth", "token": ANN, "historySeconds": 60, "historyLimit": 5}
    fresh = RULES.admitting(NOW)
    assert RULES.step(fresh, text(history), NOW)[1] == [Admit(None, RecentHistory(60, 5))]


def test_narrowing_beyond_the_token_at_admission_opens_the_whole_scope_after_ready() -> None:
    auth = {"type": "auth", "token": ANN, "hubIds": ["hub-a", "hub-z"]}
    admitted, actions = RULES.step(RULES.admitting(NOW), text(auth), NOW)
    assert described(actions) == ["Admit", "Send:error:access_denied"]
    assert admitted.scope.hub_ids == {"hub-a", "hub-b"}


def test_bearer_admission_is_the_same_rule() -> None:
    grant = RULES.verify(ANN)
    admitted, actions = RULES.admit(RULES.admitting(NOW), grant, None)
    assert (admitted.phase, actions) == (Phase.LIVE, [Admit(None, None)])
    refused, actions = RULES.admit(RULES.admitting(NOW), RULES.verify(agent_token("x", [])), None)
    assert (refused.phase, described(actions)) == (
        Phase.CLOSING,
        ["Send:error:access_denied", "Close:4003"],
    )


def test_expiry_then_grace_then_4001_unless_refreshed() -> None:
    live = in_phase(Phase.LIVE)
    exp = live.grant.expires_at
    assert RULES.step(live, Signal.TICK, exp - 1) == (live, [])
    warned, actions = RULES.step(live, Signal.TICK, exp)
    assert described(actions) == ["Send:error:expired_token"]
    assert (warned.expired, warned.deadline) == (True, exp + GRACE)
    assert RULES.step(warned, Signal.TICK, exp + GRACE - 1) == (warned, [])
    closed, actions = RULES.step(warned, Signal.TICK, exp + GRACE)
    assert (closed.phase, actions) == (Phase.CLOSING, [Close(4001, "token expired")])

    new_token = agent_token("ann", ["hub-a", "hub-b"], ttl=5400)  # outlives ANN
    refreshed, actions = RULES.step(warned, text({"type": "refresh", "token": new_token}), exp)
    assert described(actions) == ["Rescope", "Send:refreshed", "Regrant"]
    assert (refreshed.expired, refreshed.deadline) == (False, refreshed.grant.expires_at)
    assert refreshed.deadline > exp + GRACE
    assert RULES.step(refreshed, Signal.TICK, exp + GRACE) == (refreshed, [])


def test_subscribe_refresh_and_status_change_the_state_as_they_say() -> None:
    live = in_phase(Phase.LIVE)
    subscribe = {"type": "subscribe", "hubIds": ["hub-a"], "conversationIds": ["c1"]}
    narrowed, actions = RULES.step(live, text(subscribe), NOW)
    assert actions[0] == Rescope(live.scope)
    assert (narrowed.scope.hub_ids, narrowed.scope.conversation_ids) == ({"hub-a"}, {"c1"})
    assert orjson.loads(actions[1].frame) == {  # type: ignore[union-attr]
        "type": "subscribed",
        "hubIds": ["hub-a"],
        "conversationIds": ["c1"],
        "events": ["*"],
    }
    token = agent_token("ann", ["hub-a"], ttl=900)
    refreshed, actions = RULES.step(narrowed, text({"type": "refresh", "token": token}), NOW)
    assert refreshed.grant.hub_ids == {"hub-a"}
    assert actions[0] == Rescope(narrowed.scope)
    assert actions[2] == Regrant()
    busy, actions = RULES.step(refreshed, text({"type": "status", "status": "busy"}), NOW)
    assert (busy.status, actions) == ("busy", [SetStatus("busy")])
    assert replace(busy, status="available", budget=refreshed.budget) == refreshed


def test_narrowing_limits_are_inclusive_and_name_what_is_over() -> None:
    live = in_phase(Phase.LIVE)
    longest = "message:" + "x" * (MAX_FILTER_CHARS - 8)
    at_limits = {"type": "subscribe", "events": [longest, "receipt", "event"]}
    narrowed, actions = RULES.step(live, text(at_limits), NOW)
    assert described(actions) == ["Rescope", "Send:subscribed"]
    assert narrowed.scope.events == (longest, "receipt", "event")
    ids = {"type": "subscribe", "conversationIds": [f"c{n}" for n in range(MAX_NARROWING_IDS)]}
    assert described(RULES.step(live, text(ids), NOW)[1]) == ["Rescope", "Send:subscribed"]

    over = RULES.step(live, INPUTS["subscribe-too-many-filters"], NOW)[1]
    assert orjson.loads(over[0].frame)["error"]["message"] == "events: at most 3 filters"  # type: ignore[union-attr]
    long = RULES.step(live, INPUTS["subscribe-long-filter"], NOW)[1]
    message = orjson.loads(long[0].frame)["error"]["message"]  # type: ignore[union-attr]
    assert message == f"events.0: a filter is at most {MAX_FILTER_CHARS} characters"


def test_auth_narrowing_over_the_limits_opens_the_whole_scope() -> None:
    admitted, _ = RULES.step(RULES.admitting(NOW), INPUTS["auth-too-many-filters"], NOW)
    assert admitted.scope.events == ("*",)
    assert admitted.scope.hub_ids == {"hub-a", "hub-b"}


STATUS = text({"type": "status", "status": "busy"})


def flood(
    state: SessionState, count: int, start: float, every: float
) -> tuple[SessionState, list[list[str]]]:
    """`count` status frames, one each `every` seconds from `start`: the last state, and the
    actions of each frame."""
    steps = []
    for n in range(count):
        state, actions = RULES.step(state, STATUS, start + n * every)
        steps.append(described(actions))
    return state, steps


@pytest.mark.parametrize("phase", [Phase.REPLAYING, Phase.LIVE])
def test_a_burst_is_taken_then_a_warning_then_4429_a_burst_later(phase: Phase) -> None:
    state, steps = flood(in_phase(phase), BURST + 1 + BURST, NOW, 0.0)
    assert steps[:BURST] == [["SetStatus:busy"]] * BURST
    assert steps[BURST] == ["Send:error:rate_limited"]
    assert steps[BURST + 1 : -1] == [[]] * (BURST - 1)  # ignored, without a frame each
    assert steps[-1] == ["Close:4429"]
    assert state.phase is Phase.CLOSING


def test_a_flood_that_goes_on_for_a_second_after_the_warning_closes_4429() -> None:
    """At 25 frames a second, 5 a second over the rate: warned once the burst is spent,
    closed the first time a frame is refused a second or more after the warning."""
    state, steps = flood(in_phase(Phase.LIVE), 400, NOW, 1 / 25)
    warned = steps.index(["Send:error:rate_limited"])
    closed = steps.index(["Close:4429"])
    assert steps.count(["Send:error:rate_limited"]) == 1
    assert 1.0 <= (closed - warned) / 25 < 1.3
    assert all(step in (["SetStatus:busy"], []) for step in steps[warned + 1 : closed])
    assert state.phase is Phase.CLOSING


def test_a_client_within_the_rate_is_never_refused() -> None:
    _, steps = flood(in_phase(Phase.LIVE), 200, NOW, 1 / 19.9)
    assert steps == [["SetStatus:busy"]] * 200


def test_the_warning_is_forgotten_once_the_bucket_is_full_again() -> None:
    state, steps = flood(in_phase(Phase.LIVE), BURST + 5, NOW, 0.0)
    assert steps[BURST] == ["Send:error:rate_limited"]
    quiet_until = NOW + BURST / 20  # a whole burst's worth of time
    state, steps = flood(state, BURST + 5, quiet_until, 0.0)
    assert steps[:BURST] == [["SetStatus:busy"]] * BURST
    assert steps[BURST:] == [["Send:error:rate_limited"]] + [[]] * 4
    assert state.phase is Phase.LIVE


def test_a_refused_frame_is_not_acted_on() -> None:
    state, _ = flood(in_phase(Phase.LIVE), BURST, NOW, 0.0)
    subscribe = text({"type": "subscribe", "hubIds": ["hub-a"]})
    after, actions = RULES.step(state, subscribe, NOW)
    assert described(actions) == ["Send:error:rate_limited"]
    assert after.scope == state.scope


def test_a_frame_aiohttp_refused_is_not_counted_against_the_rate() -> None:
    """It ends the session whatever the bucket holds: aiohttp is closing the socket."""
    spent, _ = flood(in_phase(Phase.LIVE), BURST, NOW, 0.0)
    for signal in (Signal.OVERSIZED, Signal.INVALID_TEXT):
        closed, actions = RULES.step(spent, signal, NOW)
        assert (closed.phase, described(actions)) == (
            Phase.CLOSING,
            ["Send:error:invalid_payload", "Close:4400"],
        )
