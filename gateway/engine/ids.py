"""Gateway event ids: the one place that knows their format.

An id is `<13-digit epoch milliseconds>-<6-digit sequence>`: fixed width, so ids sort as
strings in the order events were stored, across every hub and every process (a raw Redis
stream id does not: `...-10` sorts before `...-9`). The time part lets a replay range given
as times map onto ids. A writer that would pass `MAX_SEQ` within one millisecond moves on to
the next millisecond instead.
"""

from __future__ import annotations

import re

MAX_SEQ = 999_999
SCRIPT_ID_FORMAT = "%013.0f-%06d"
"""The same format for Lua's `string.format`, which the Redis engine's scripts get as an
argument with `MAX_SEQ` (Lua numbers are doubles, so the milliseconds print as `%.0f`)."""
EVENT_ID_PATTERN = r"^[0-9]{13}-[0-9]{6}$"
r"""ASCII digits: `\d` would take any script's digits (Arabic-Indic, fullwidth, ...), ids
that sort as no stored id does."""
_EVENT_ID = re.compile(EVENT_ID_PATTERN)


def event_id_at(ms: int, seq: int = 0) -> str:
    return f"{ms:013d}-{seq:06d}"


def event_id_ms(event_id: str) -> int:
    return int(event_id[:13])


def last_id_at(ms: int) -> str:
    """The greatest id of millisecond `ms`: every event stored in that millisecond sorts at
    or below it."""
    return event_id_at(ms, MAX_SEQ)


def is_event_id(text: str) -> bool:
    return _EVENT_ID.fullmatch(text) is not None
