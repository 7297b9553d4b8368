"""The pure outcome rules: which answers retry, when, and when a delivery is dead."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from gateway.delivery.outcome import SendResult, decide, retry_after_seconds

SCHEDULE = [0.0, 5.0, 300.0]
NOW = 1_800_000_000.0


def no_jitter() -> float:
    return 1.0


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_succeeds(status):
    assert decide(SendResult(status), 1, SCHEDULE, NOW).status == "succeeded"


def test_410_keeps_the_delivery_and_disables():
    decision = decide(SendResult(410), 3, SCHEDULE, NOW)
    assert (decision.status, decision.gone, decision.retry_in) == ("failed", True, 0.0)


@pytest.mark.parametrize("status", [None, 300, 400, 404, 500, 501])
def test_other_answers_follow_the_schedule_then_die(status):
    result = SendResult(status, None if status else "connection failed")
    assert decide(result, 1, SCHEDULE, NOW, no_jitter).retry_in == 5.0
    assert decide(result, 2, SCHEDULE, NOW, no_jitter).retry_in == 300.0
    assert decide(result, 3, SCHEDULE, NOW, no_jitter).status == "dead"


def test_jitter_stays_within_twenty_percent():
    delays = {decide(SendResult(500), 2, SCHEDULE, NOW).retry_in for _ in range(200)}
    assert all(240.0 <= delay <= 360.0 for delay in delays if delay is not None)
    assert len(delays) > 1


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_slow_down_answers_honour_retry_after(status):
    decision = decide(SendResult(status, retry_after="120"), 1, SCHEDULE, NOW, no_jitter)
    assert (decision.status, decision.retry_in) == ("failed", 120.0)
    without = decide(SendResult(status), 1, SCHEDULE, NOW, no_jitter)
    assert without.retry_in == 5.0
    assert decide(SendResult(status, retry_after="1"), 3, SCHEDULE, NOW).status == "dead"


def test_retry_after_forms():
    later = format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True)
    assert retry_after_seconds(later, NOW) == 90.0
    past = format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True)
    assert retry_after_seconds(past, NOW) == 0.0
    assert retry_after_seconds(" 7 ", NOW) == 7.0
    assert retry_after_seconds("99999999", NOW) == 86400.0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds("-5", NOW) is None
    unparsable = decide(SendResult(503, retry_after="soon"), 1, SCHEDULE, NOW, no_jitter)
    assert unparsable.retry_in == 5.0


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "\uff15", "1.5", "", "Wed, 21 Oct 2015"])
def test_retry_after_that_is_neither_ascii_digits_nor_a_date_is_ignored(value):
    assert retry_after_seconds(value, NOW) is None
    decision = decide(SendResult(503, retry_after=value), 1, SCHEDULE, NOW, no_jitter)
    assert (decision.status, decision.retry_in) == ("failed", 5.0)


@pytest.mark.parametrize("asked", ["0", "1", "4"])
def test_a_retry_after_shorter_than_the_schedule_waits_for_the_schedule(asked):
    decision = decide(SendResult(429, retry_after=asked), 1, SCHEDULE, NOW, no_jitter)
    assert decision.retry_in == 5.0
