"""Pure rules behind sessions: scope narrowing within a grant, frame headers. (The presence
store's transitions are in the engine conformance tests.)"""

from __future__ import annotations

import pytest

from gateway.agents.tokens import AgentGrant
from gateway.ws.frames import text_frame_header
from gateway.ws.scope import AccessDenied, granted_scope, narrowed, regranted


def _grant(hubs: set[str], conversations: set[str] | None = None) -> AgentGrant:
    return AgentGrant(
        "ann",
        None,
        frozenset(hubs),
        None if conversations is None else frozenset(conversations),
        0.0,
    )


def test_narrowing_stays_within_the_grant() -> None:
    grant = _grant({"a", "b"}, {"c1", "c2"})
    scope = granted_scope(grant)
    narrower = narrowed(grant, scope, ["a"], ["c1"], ["message"])
    assert (narrower.hub_ids, narrower.conversation_ids, narrower.events) == (
        {"a"},
        {"c1"},
        ("message",),
    )
    wider = narrowed(grant, narrower, ["a", "b"], None, None)
    assert wider.hub_ids == {"a", "b"}
    assert wider.conversation_ids == {"c1"}
    assert wider.events == ("message",)
    with pytest.raises(AccessDenied):
        narrowed(grant, scope, ["a", "z"], None, None)
    with pytest.raises(AccessDenied):
        narrowed(grant, scope, None, ["c3"], None)


def test_any_conversation_when_the_grant_does_not_narrow() -> None:
    grant = _grant({"a"})
    assert narrowed(grant, granted_scope(grant), None, ["any"], None).conversation_ids == {"any"}


def test_regrant_cuts_the_scope_to_the_new_token() -> None:
    scope = granted_scope(_grant({"a", "b"}))
    assert regranted(scope, _grant({"b", "c"})).hub_ids == {"b"}
    assert regranted(scope, _grant({"a"}, {"c1"})).conversation_ids == {"c1"}
    with pytest.raises(AccessDenied):
        regranted(scope, _grant({"z"}))
    narrowed_scope = narrowed(
        _grant({"a"}, {"c1", "c2"}), granted_scope(_grant({"a"})), None, ["c1"], None
    )
    with pytest.raises(AccessDenied):
        regranted(narrowed_scope, _grant({"a"}, {"c2"}))


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_text_frame_headers(length: int, header: bytes) -> None:
    assert text_frame_header(length) == header
