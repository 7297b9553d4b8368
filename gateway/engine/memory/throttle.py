"""In-memory token buckets by key. A bucket that has refilled is the same as a new one, so
buckets are forgotten once full: swept whenever the table doubles since the last sweep, which
keeps the cost per `take` constant and the table no bigger than the keys recently used."""

from __future__ import annotations

from dataclasses import dataclass

_SWEEP_FLOOR = 64


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    rate: float
    burst: float

    def level(self, now: float) -> float:
        return min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)


class MemoryThrottle:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._sweep_at = _SWEEP_FLOOR

    async def take(self, key: str, rate_per_second: float, burst: float, now: float) -> float:
        return self._take(key, self._buckets.get(key), rate_per_second, burst, now)

    def _take(
        self, key: str, bucket: _Bucket | None, rate: float, burst: float, now: float
    ) -> float:
        """Take from the bucket as it was read (`bucket`, None when new)."""
        level = burst if bucket is None else min(burst, bucket.level(now))
        updated = now if bucket is None else max(bucket.updated, now)
        taken = level >= 1.0
        self._buckets[key] = _Bucket(level - taken, updated, rate, burst)
        if len(self._buckets) >= self._sweep_at:
            self._sweep(now)
        if taken:
            return 0.0
        return (1.0 - level) / rate if rate > 0 else float("inf")

    def _sweep(self, now: float) -> None:
        full = [key for key, b in self._buckets.items() if b.level(now) >= b.burst]
        for key in full:
            del self._buckets[key]
        self._sweep_at = max(_SWEEP_FLOOR, 2 * len(self._buckets))
