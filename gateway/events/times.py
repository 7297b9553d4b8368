"""Activity times: RFC 3339 UTC with milliseconds and `Z`, one format everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

# Years 1..9999 are what `datetime` can render; an epoch-ms outside is no real event time.
MIN_EPOCH_MS = -62135596800000
MAX_EPOCH_MS = 253402300799999


def format_ms(epoch_ms: int) -> str:
    """`2025-11-23T12:00:00.123Z` for an epoch-ms in range (ValueError otherwise)."""
    if not MIN_EPOCH_MS <= epoch_ms <= MAX_EPOCH_MS:
        raise ValueError("time out of range")
    return f"{_second_text(epoch_ms // 1000)}.{epoch_ms % 1000:03d}Z"


@lru_cache(maxsize=1024)
def _second_text(epoch_second: int) -> str:
    """Formatting a datetime is slow next to the rest of a webhook; seconds repeat a lot."""
    return f"{datetime.fromtimestamp(epoch_second, UTC):%Y-%m-%dT%H:%M:%S}"


def format_datetime(moment: datetime) -> str:
    """The canonical text of an aware datetime, truncated to milliseconds."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def format_seconds(epoch_seconds: float) -> str:
    return format_ms(int(epoch_seconds * 1000))


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
