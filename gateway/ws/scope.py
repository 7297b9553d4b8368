"""What a session sees: hubs, conversations and event types, always within its token's grant.

Pure rules. Narrowing never widens past the grant: asking for more is `AccessDenied` and the
caller keeps the scope it had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.agents.tokens import AgentGrant
from gateway.engine.events import StoredEvent
from gateway.errors import AccessDenied
from gateway.events.filters import TypeFilter

ALL_EVENTS = ("*",)
ALL_TYPES = TypeFilter(ALL_EVENTS)
"""The filter of every session that did not narrow its events (most do not): shared. Any
other list is compiled for its scope alone; nothing is cached on what a client sent."""


@dataclass(frozen=True)
class Scope:
    hub_ids: frozenset[str]
    conversation_ids: frozenset[str] | None
    events: tuple[str, ...] = ALL_EVENTS
    type_filter: TypeFilter = field(init=False, repr=False, compare=False)
    whole_hubs: bool = field(init=False, repr=False, compare=False)
    """Every event of its hubs (no conversation or type narrowing, as most sessions): the
    fan-out, which routes by hub, then needs no `sees` (`SessionState.takes_every_event`)."""

    def __post_init__(self) -> None:
        compiled = ALL_TYPES if self.events == ALL_EVENTS else TypeFilter(self.events)
        object.__setattr__(self, "type_filter", compiled)
        whole = self.conversation_ids is None and compiled is ALL_TYPES
        object.__setattr__(self, "whole_hubs", whole)

    def sees(self, event: StoredEvent) -> bool:
        if event.hub_id not in self.hub_ids:
            return False
        if self.conversation_ids is not None and event.conversation_id not in (
            self.conversation_ids
        ):
            return False
        return self.type_filter.matches(event.type)

    def describe(self) -> dict[str, Any]:
        """The `subscribed` frame's fields."""
        conversations = None if self.conversation_ids is None else sorted(self.conversation_ids)
        return {
            "hubIds": sorted(self.hub_ids),
            "conversationIds": conversations,
            "events": list(self.events),
        }


def granted_scope(grant: AgentGrant) -> Scope:
    return Scope(grant.hub_ids, grant.conversation_ids)


def narrowed(
    grant: AgentGrant,
    current: Scope,
    hub_ids: Sequence[str] | None,
    conversation_ids: Sequence[str] | None,
    events: Sequence[str] | None,
) -> Scope:
    """The scope after a `subscribe` (or the auth frame's fields); absent fields stay."""
    hubs = current.hub_ids if hub_ids is None else frozenset(hub_ids)
    if not hubs <= grant.hub_ids:
        raise AccessDenied("The token does not grant " + ", ".join(sorted(hubs - grant.hub_ids)))
    conversations = current.conversation_ids
    if conversation_ids is not None:
        conversations = frozenset(conversation_ids)
        granted = grant.conversation_ids
        if granted is not None and not conversations <= granted:
            missing = ", ".join(sorted(conversations - granted))
            raise AccessDenied("The token does not grant conversations " + missing)
    return Scope(hubs, conversations, current.events if events is None else tuple(events))


def regranted(current: Scope, grant: AgentGrant) -> Scope:
    """The scope under a refreshed token: what it had, cut down to the new grant."""
    hubs = current.hub_ids & grant.hub_ids
    conversations = current.conversation_ids
    if grant.conversation_ids is not None:
        conversations = grant.conversation_ids & (conversations or grant.conversation_ids)
    if not hubs or conversations == frozenset():
        raise AccessDenied("The new token grants none of this session's hubs or conversations.")
    return Scope(hubs, conversations, current.events)
