"""What an attempt's result means: done, retry (when), dead, or the subscriber is gone.

Pure: the schedule, the clock and the jitter come in as arguments.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

SLOW_DOWN_STATUSES = frozenset({429, 502, 503, 504})
GONE_STATUS = 410
JITTER = 0.2
MAX_RETRY_AFTER_SECONDS = 86400.0
_DELTA_SECONDS = re.compile(r"[0-9]+")

AttemptStatus = Literal["pending", "succeeded", "failed", "dead"]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What came back: a status (None when no response came) or an error, Retry-After, and
    the start of the response body (what a test send shows the operator)."""

    status: int | None
    error: str | None = None
    retry_after: str | None = None
    body_start: bytes = b""


@dataclass(frozen=True, slots=True)
class Decision:
    status: AttemptStatus
    retry_in: float | None = None
    gone: bool = False


def jitter() -> float:
    return random.uniform(1 - JITTER, 1 + JITTER)


def decide(
    result: SendResult,
    attempt: int,
    schedule: Sequence[float],
    now: float,
    spread: Callable[[], float] = jitter,
) -> Decision:
    """`attempt` is the 1-based number of the attempt just made; the schedule lists the delay
    before each attempt (its first entry is the first attempt's), so it allows
    `len(schedule)` attempts. A 410 keeps the delivery for when the subscriber is enabled.
    `Retry-After` can lengthen a wait, never shorten it: a subscriber answering
    `Retry-After: 0` would otherwise use up the whole schedule in a moment."""
    status = result.status
    if status is not None and 200 <= status < 300:
        return Decision("succeeded")
    if status == GONE_STATUS:
        return Decision("failed", retry_in=0.0, gone=True)
    if attempt >= len(schedule):
        return Decision("dead")
    wait = schedule[attempt] * spread()
    if status in SLOW_DOWN_STATUSES and result.retry_after is not None:
        asked = retry_after_seconds(result.retry_after, now)
        if asked is not None:
            wait = max(wait, asked)
    return Decision("failed", retry_in=wait)


def retry_after_seconds(value: str, now: float) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds (ASCII digits only: `str.isdigit`
    also accepts '²', which `float` refuses) or an HTTP date; None if neither, never an
    exception, whatever a subscriber sends."""
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return min(max(0.0, moment.timestamp() - now), MAX_RETRY_AFTER_SECONDS)
