"""Token buckets shared by every process: inbound rate limits per integration and the
throttle on failed admin-key attempts hold for the whole deployment, not per process."""

from __future__ import annotations

from typing import Protocol


class Throttle(Protocol):
    async def take(self, key: str, rate_per_second: float, burst: float, now: float) -> float:
        """Take one token from the bucket `key` (made full, holding `burst`, on first use;
        refilled at `rate_per_second`). Returns 0.0 when a token was taken, else the seconds
        until one will be (nothing taken). A bucket left alone until full is forgotten."""
        ...
