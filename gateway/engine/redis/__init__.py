"""The Redis engine: every gateway process pointed at one Redis shares one event log, dedup,
registries, delivery queue, presence and throttles (`GATEWAY_REDIS_URL`).

Every change that touches more than one key is one Lua script (`lua/`), run by SHA; every
method of the engine interface is one atomic step. Each process holds one client pool for
commands and one dedicated connection for its blocking stream reader (`reader.py`).

Key layout (prefix `gw`, `GATEWAY_REDIS_KEY_PREFIX`): every key carries a hash tag, so each
script touches one Redis Cluster slot.

- `{gw:log}`: the event stream `:events` (entries `h` hub, `c` conversation, `t` type,
  `p` payload, `o` running byte total), `:meta` (last id given, bytes appended and dropped,
  history floor), the dedup buckets `:dedup:<width>:<n>:s:<xx>` and their index `:dedup`,
  and presence: `:presence:hub:<hub>:agents`, `:presence:hub:<hub>:sessions`,
  `:presence:instance:<id>`, `:presence:holders`, `:instances` and the change feed
  `:roster`.
  The event log is one slot because it is one stream: a single stream is what gives every
  event one global order (ids that sort across all hubs and processes, a resume by one
  cursor), and the dedup keys must be written by the same script as the `XADD` (stored
  together or not at all). Presence lives beside it so that its change feed is followed by
  the same blocking `XREAD` as the events (a multi-key `XREAD` must stay in one slot).
- `{gw:reg}`: registries, `:records:<kind>` and `:changes`.
- `{gw:dq}`: the delivery queue: the index of due subscribers and every per-subscriber
  structure, since enqueue and claim touch both.
- `{gw:throttle:<key>}`: one token bucket, its own slot.
- `{gw:meta}:schema`: the key layout's version, checked at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster

from gateway.engine.base import EngineStats, EngineUnavailable
from gateway.engine.deliveries import DeliveryQueue, QueueLimits
from gateway.engine.events import EventLog
from gateway.engine.ids import event_id_at
from gateway.engine.presence import PresenceStore
from gateway.engine.redis.connection import (
    Health,
    Link,
    PlaceAt,
    PoolBusy,
    RedisConfigError,
    RedisOptions,
    describe,
    is_pool_exhausted,
    is_unavailable,
    text,
)
from gateway.engine.redis.deliveries import RedisDeliveryQueue
from gateway.engine.redis.events import RedisEventLog
from gateway.engine.redis.keys import SCHEMA_VERSION, Keys
from gateway.engine.redis.presence import RedisPresenceStore
from gateway.engine.redis.reader import BLOCK_MS, BlockingReader
from gateway.engine.redis.registry import RedisRegistry
from gateway.engine.redis.scripts import Scripts
from gateway.engine.redis.throttle import RedisThrottle
from gateway.engine.registry import Registry
from gateway.engine.throttle import Throttle

__all__ = ["RedisConfigError", "RedisEngine", "RedisOptions", "open_redis_engine"]

log = logging.getLogger("gateway.redis")

REQUIRED_EVICTION_POLICY = "noeviction"
LAZY_EXPIRY = "yes"
# `ping` reads the eviction policy again at most this often (it costs an INFO, not a PING).
POLICY_CHECK_SECONDS = 5.0
# A host clock further than this from Redis's is named in the log (leases, presence expiry
# and the age cut of the history run on the hosts' clocks; docs/redis.md, Clocks).
CLOCK_SKEW_WARNING_SECONDS = 2.0


class RedisEngine:
    name = "redis"

    def __init__(
        self,
        options: RedisOptions,
        *,
        limits: QueueLimits | None = None,
        instance_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self._clock = clock
        self._clock_skew = 0.0
        self.instance_id = instance_id or secrets.token_hex(8)
        self.keys = Keys(options.key_prefix)
        redis = options.client()
        self.health = Health(options.target, redis)
        gate = asyncio.Semaphore(options.pool_size)
        self.link = Link(redis, self.keys, Scripts(redis), self.health, gate)
        block_seconds = BLOCK_MS / 1000
        reader_client = options.client(
            read_timeout=block_seconds + options.timeout_seconds, pool_size=1
        )
        self._reader = BlockingReader(reader_client, self.keys, self.health)
        self.events: EventLog = RedisEventLog(
            self.link,
            self._reader,
            wait_replicas=options.wait_replicas,
            wait_ms=round(options.wait_timeout_seconds * 1000),
        )
        self.registry: Registry = RedisRegistry(self.link)
        self.presence: PresenceStore = RedisPresenceStore(self.link, self._reader)
        self.limits = limits or QueueLimits()
        self.deliveries: DeliveryQueue = RedisDeliveryQueue(self.link, self.limits)
        self.throttle: Throttle = RedisThrottle(self.link)
        self._policy_checked = 0.0

    async def start(self) -> None:
        """Check the deployment and prepare the keys; `RedisConfigError` (one line) when the
        gateway must not run against this Redis, `EngineUnavailable` when it cannot reach
        it."""
        try:
            await self._check_policy()
            await self._measure_clock()
            await self._warn_of_eager_expiry()
            await self._claim_schema()
            await self.link.scripts.load()
        except (RedisConfigError, EngineUnavailable):
            raise
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            raise EngineUnavailable(f"cannot reach redis at {self.options.target}: "
                                    f"{describe(exc)}") from exc  # fmt: skip

    async def _policies(self) -> set[str]:
        """The eviction policy of Redis, or of every primary of a cluster."""
        redis = self.link.redis
        if isinstance(redis, RedisCluster):
            by_node = await redis.info("memory", target_nodes=RedisCluster.PRIMARIES)
            return {str(info.get("maxmemory_policy", "")) for info in by_node.values()}
        return {str((await redis.info("memory")).get("maxmemory_policy", ""))}

    async def _check_policy(self) -> None:
        policies = await self._policies()
        self._policy_checked = time.monotonic()
        policy = ", ".join(sorted(policies - {REQUIRED_EVICTION_POLICY}))
        if policy:
            raise RedisConfigError(
                f"redis at {self.options.target} has maxmemory-policy {policy}; the gateway "
                f"needs {REQUIRED_EVICTION_POLICY} (an evicting Redis drops dedup keys and "
                "queued deliveries)"
            )

    async def _measure_clock(self) -> None:
        """Redis `TIME` against this host's clock (halfway through the round trip); one line
        each time the difference grows past `CLOCK_SKEW_WARNING_SECONDS`."""
        before = self._clock()
        seconds, micros = await self.link.redis.time()
        after = self._clock()
        skew = abs(seconds + micros / 1e6 - (before + after) / 2)
        if skew > CLOCK_SKEW_WARNING_SECONDS >= self._clock_skew:
            log.warning(
                "this host's clock is %.1fs away from redis at %s: run NTP on every host "
                "(delivery leases and presence expiry need the clocks to agree)",
                skew,
                self.options.target,
            )
        self._clock_skew = skew

    async def _warn_of_eager_expiry(self) -> None:
        """One line when Redis frees expired keys on its main thread: a dedup bucket's
        hashes expire whole, and a large one freed inline stalls every command meanwhile
        (the buckets are split to keep each small; this is the belt to those braces). A
        Redis whose CONFIG is renamed away (some managed services) is not asked."""
        redis = self.link.redis
        try:
            found: Any
            if isinstance(redis, RedisCluster):
                found = await redis.config_get(
                    "lazyfree-lazy-expire", target_nodes=RedisCluster.PRIMARIES
                )
                values = {text(v) for node in found.values() for v in node.values()}
            else:
                found = await redis.config_get("lazyfree-lazy-expire")
                values = {text(v) for v in found.values()}
        except redis_errors.ResponseError:
            return
        if LAZY_EXPIRY not in values:
            log.warning(
                "redis at %s has lazyfree-lazy-expire %s: set it to yes, so that expiring "
                "dedup buckets are freed in the background",
                self.options.target,
                ", ".join(sorted(values)) or "off",
            )

    async def _claim_schema(self) -> None:
        """Write this layout's version unless one is there; refuse another layout."""
        redis = self.link.redis
        await redis.set(self.keys.schema, SCHEMA_VERSION, nx=True)
        found = await redis.get(self.keys.schema)
        if found is not None and text(found) != SCHEMA_VERSION:
            raise RedisConfigError(
                f"redis at {self.options.target} holds key layout version {text(found)} "
                f"under prefix {self.keys.prefix!r}; this gateway uses version "
                f"{SCHEMA_VERSION}"
            )
        floor = event_id_at(time.time_ns() // 1_000_000)
        await redis.hsetnx(self.keys.log_meta, "floor", floor)

    async def ping(self) -> None:
        """A PING, and every few seconds the eviction policy instead: an operator switching
        Redis to an evicting policy makes `/readyz` fail."""
        since = self.health.errors
        try:
            async with PlaceAt(self.link.gate):
                if time.monotonic() - self._policy_checked >= POLICY_CHECK_SECONDS:
                    await self._check_policy()
                    await self._measure_clock()
                else:
                    await self.link.redis.ping()
        except RedisConfigError as exc:
            self._policy_checked = 0.0
            self.health.failed(exc)  # one log line saying why, not one per check
            raise EngineUnavailable(str(exc)) from None
        except PoolBusy:
            raise
        except Exception as exc:
            if is_pool_exhausted(exc):
                raise PoolBusy(f"redis: {describe(exc)}") from exc
            if not is_unavailable(exc):
                raise
            self.health.failed(exc)
            raise EngineUnavailable(f"redis: {describe(exc)}") from exc
        self.health.answered(since)

    def stats(self) -> EngineStats:
        return EngineStats(
            errors=self.health.errors,
            reader_lag_seconds=self._reader.lag_seconds(),
            clock_skew_seconds=self._clock_skew,
        )

    async def close(self) -> None:
        await self._reader.close()
        await self.link.redis.aclose()


async def open_redis_engine(
    options: RedisOptions, *, limits: QueueLimits | None = None
) -> RedisEngine:
    """A started engine, or `RedisConfigError` / `EngineUnavailable` with one line."""
    engine = RedisEngine(options, limits=limits)
    try:
        await engine.start()
    except BaseException:
        await engine.close()
        raise
    return engine
