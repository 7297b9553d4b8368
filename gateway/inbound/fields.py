"""Reading untrusted JSON with errors that name the field (`activities.0.eventId: ...`)."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import InboundError
from gateway.events.filters import check_filter
from gateway.events.model import MAX_ATTEMPT
from gateway.times import canonical_time

JsonObject = dict[str, Any]


def parse_object(body: bytes) -> JsonObject:
    """The body as a JSON object: invalid_json if unparsable, invalid_payload if not an object."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InboundError.invalid_json() from None
    if not isinstance(value, dict):
        raise InboundError.invalid_payload("The body must be a JSON object.")
    return value


def obj(parent: JsonObject, key: str, path: str) -> JsonObject:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise InboundError.invalid_payload(f"{path}: must be an object.")
    return value


def optional_obj(parent: JsonObject, key: str, path: str) -> JsonObject | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, dict):
        raise InboundError.invalid_payload(f"{path}: must be an object or null.")
    return value


def text(parent: JsonObject, key: str, path: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise InboundError.invalid_payload(f"{path}: must be a non-empty string.")
    return value


def optional_text(parent: JsonObject, key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        raise InboundError.invalid_payload(f"{path}: must be a string or null.")
    return value or None


def optional_time(parent: JsonObject, key: str, path: str) -> str | None:
    """An RFC 3339 time with a zone, in the activity's canonical form; None when absent."""
    stamp = optional_text(parent, key, path)
    if stamp is None:
        return None
    try:
        return canonical_time(stamp)
    except ValueError:
        raise InboundError.invalid_payload(f"{path}: must be an RFC 3339 time.") from None


def attempt_number(value: Any) -> int | None:
    """A provider's delivery attempt, sent as a number or a numeric string, when it is one
    from 1 to MAX_ATTEMPT; None otherwise (each adapter decides what that means)."""
    if isinstance(value, str):
        value = decimal(value.strip(), len(str(MAX_ATTEMPT)))
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPT:
        return None
    return value


def decimal(value: str, max_digits: int) -> int | None:
    """The number a string of ASCII digits spells, or None when it is not one or has more
    than `max_digits` significant digits (Python's int() refuses thousands of digits, and a
    number that long is out of every range we take anyway)."""
    if not (value.isascii() and value.isdigit()):
        return None
    significant = value.lstrip("0")
    return int(significant or "0") if len(significant) <= max_digits else None


def flag(parent: JsonObject, key: str, path: str) -> bool:
    value = parent.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InboundError.invalid_payload(f"{path}: must be true or false.")
    return value


def activity_type(family: str, name: str, path: str) -> str:
    """`family:name`, refused when the name cannot be filtered on (empty, padded)."""
    value = f"{family}:{name}"
    try:
        check_filter(value)
    except ValueError:
        # repr: the name is the sender's, and may hold control characters no header can carry.
        raise InboundError.invalid_payload(f"{path}: {name!r} is not a usable type name.") from None
    return value
