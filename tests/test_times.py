"""One time format: every way of writing an instant agrees with `datetime` to the millisecond."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from gateway.times import epoch_ms, format_log_time, format_ms, format_seconds

SECONDS = st.floats(min_value=-1e10, max_value=2.5e11, allow_nan=False, allow_infinity=False)


def _datetime_text(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")


@given(SECONDS)
def test_seconds_are_written_as_datetime_writes_them(epoch_seconds: float) -> None:
    """Token expiries, presence and attempt times: float seconds, with no millisecond lost to
    float noise (`1700000000.123` is stored as `...122999...`)."""
    assert format_seconds(epoch_seconds) == _datetime_text(epoch_seconds).replace("+00:00", "Z")
    assert format_log_time(epoch_seconds) == _datetime_text(epoch_seconds)


def test_float_noise_does_not_lose_a_millisecond() -> None:
    assert format_seconds(1700000000.123) == "2023-11-14T22:13:20.123Z"


@given(st.integers(min_value=0, max_value=253402300799999))
def test_epoch_ms_round_trips(ms: int) -> None:
    text = format_ms(ms)
    assert epoch_ms(datetime.fromisoformat(text)) == ms


def test_years_below_1000_are_four_digits() -> None:
    from datetime import UTC, datetime

    from gateway.times import MIN_EPOCH_MS, canonical_time, format_datetime, format_ms

    assert format_ms(MIN_EPOCH_MS) == "0001-01-01T00:00:00.000Z"
    assert format_datetime(datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC)) == (
        "0999-12-31T23:59:59.000Z"
    )
    assert canonical_time("0050-06-01T00:00:00+00:00") == "0050-06-01T00:00:00.000Z"
