"""Time, as the gateway reads and writes it: RFC 3339 UTC with milliseconds and `Z`
(`2026-01-02T03:04:05.678Z`) everywhere the contract shows a time, epoch milliseconds inside.

Every formatter goes through `format_ms`, so an activity's `occurredAt`, a token's
`expiresAt` and a delivery's `nextAttemptAt` can never disagree on the format; the JSON log
writes the same instant with `+00:00`, as log tools expect.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

# Years 1..9999 are what `datetime` can render; an epoch-ms outside is no real event time.
MIN_EPOCH_MS = -62135596800000
MAX_EPOCH_MS = 253402300799999

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def format_ms(epoch_ms: int) -> str:
    """`2025-11-23T12:00:00.123Z` for an epoch-ms in range (ValueError otherwise)."""
    if not MIN_EPOCH_MS <= epoch_ms <= MAX_EPOCH_MS:
        raise ValueError("time out of range")
    return f"{_second_text(epoch_ms // 1000)}.{epoch_ms % 1000:03d}Z"


@lru_cache(maxsize=1024)
def _second_text(epoch_second: int) -> str:
    """Formatting a datetime is slow next to the rest of a webhook; seconds repeat a lot."""
    return _text(datetime.fromtimestamp(epoch_second, UTC))


def _text(moment: datetime) -> str:
    """`%Y` writes years below 1000 without padding (`999-12-31`), which RFC 3339 forbids."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"


def _epoch_ms_of_seconds(epoch_seconds: float) -> int:
    """Rounded to the microsecond first, as `datetime.fromtimestamp` does, so that float
    noise (`1700000000.123` is stored as `...122999`) does not lose a millisecond."""
    whole = math.floor(epoch_seconds)
    micro = round((epoch_seconds - whole) * 1_000_000)
    return whole * 1000 + micro // 1000


def format_seconds(epoch_seconds: float) -> str:
    return format_ms(_epoch_ms_of_seconds(epoch_seconds))


def format_datetime(moment: datetime) -> str:
    """The canonical text of an aware datetime, truncated to milliseconds."""
    utc = moment.astimezone(UTC)
    return f"{_text(utc)}.{utc.microsecond // 1000:03d}Z"


def canonical_time(text: str) -> str:
    """The canonical text of an RFC 3339 time with a zone (`Z` or an offset); ValueError
    for anything else, including zone-less times that would silently mean local time."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        return format_datetime(moment)
    except OverflowError:
        raise ValueError("time out of range") from None


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time (`2026-01-02T03:04:05.678Z`, or with an offset) as an aware
    datetime; ValueError for anything else, however `fromisoformat` would read it (a bare
    date, a number, a time without a zone)."""
    if not _RFC3339.fullmatch(text):
        raise ValueError("must be an RFC 3339 date-time, e.g. 2026-01-02T03:04:05Z")
    try:
        return datetime.fromisoformat(text.upper())
    except (ValueError, OverflowError):
        raise ValueError("is not a date-time that exists") from None


def epoch_ms(moment: datetime) -> int:
    """An aware datetime as epoch milliseconds, exactly (no float rounding at the ms)."""
    return (moment - _EPOCH) // _MILLISECOND


def format_log_time(epoch_seconds: float) -> str:
    """`2026-11-23T15:29:51.036+00:00`: the JSON log's timestamp."""
    ms = _epoch_ms_of_seconds(epoch_seconds)
    return f"{_second_text(ms // 1000)}.{ms % 1000:03d}+00:00"
