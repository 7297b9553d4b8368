"""A normalised activity becomes an engine `NewEvent`: encoded once, these bytes go everywhere."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.engine import NewEvent
from gateway.errors import UnencodableActivity
from gateway.events.activity import KeyedActivity


def _first_unencodable(value: Any, path: str) -> str:
    """The path of the innermost member orjson refuses (only walked once encoding failed)."""
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    else:
        return path or "$"
    for key, child in children:
        try:
            orjson.dumps(child)
        except orjson.JSONEncodeError:
            return _first_unencodable(child, f"{path}.{key}" if path else str(key))
    return path or "$"


def encode(keyed: KeyedActivity) -> NewEvent:
    activity = keyed.activity
    try:
        body = orjson.dumps(activity)
    except orjson.JSONEncodeError as exc:
        where = _first_unencodable(activity, "")
        raise UnencodableActivity(f"{where}: cannot be encoded as JSON ({exc}).") from None
    return NewEvent(
        dedup_key=keyed.dedup_key,
        hub_id=activity["hubId"],
        conversation_id=activity["conversationId"],
        type=activity["type"],
        body=body,
    )
