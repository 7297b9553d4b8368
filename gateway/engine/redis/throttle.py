"""Token buckets in Redis: one small hash per bucket, each its own Cluster slot, taken from
by one script so that every process shares the bucket."""

from __future__ import annotations

from gateway.engine.redis.connection import Link, guarded


class RedisThrottle:
    def __init__(self, link: Link) -> None:
        self.link = link
        self._take = link.scripts.register("throttle_take")

    @guarded
    async def take(self, key: str, rate_per_second: float, burst: float, now: float) -> float:
        wait = await self._take([self.link.keys.throttle(key)], [rate_per_second, burst, now])
        return float(wait)
