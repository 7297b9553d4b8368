"""Aware datetimes to epoch milliseconds, exactly (no float rounding at the millisecond)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MILLISECOND
