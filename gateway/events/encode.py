"""A normalised activity becomes an engine `NewEvent`: encoded once, these bytes go everywhere."""

from __future__ import annotations

import orjson

from gateway.engine import NewEvent
from gateway.events.activity import KeyedActivity


def encode(keyed: KeyedActivity) -> NewEvent:
    activity = keyed.activity
    return NewEvent(
        dedup_key=keyed.dedup_key,
        hub_id=activity["hubId"],
        conversation_id=activity["conversationId"],
        type=activity["type"],
        body=orjson.dumps(activity),
    )
