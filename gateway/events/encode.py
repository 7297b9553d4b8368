"""A normalised activity becomes an engine `NewEvent`: encoded once, these bytes go everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from gateway.engine import NewEvent
from gateway.errors import GatewayError, UnencodableActivity
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


def encode_all(activities: Iterable[KeyedActivity], max_bytes: int) -> list[NewEvent]:
    """Every activity encoded, or 413 as soon as their bytes together pass `max_bytes`:
    one signed body must not become an unbounded amount of stored and fanned-out data."""
    events: list[NewEvent] = []
    total = 0
    for keyed in activities:
        event = encode(keyed)
        total += len(event.body)
        if total > max_bytes:
            message = f"The activities of this body normalise to more than {max_bytes} bytes."
            raise GatewayError("payload_too_large", message, 413)
        events.append(event)
    return events
