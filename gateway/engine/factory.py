"""The engine a configuration asks for: the embedded memory engine, or Redis when
`GATEWAY_REDIS_URL` is set."""

from __future__ import annotations

from gateway.config import ConfigError, Settings
from gateway.engine.base import Engine, EngineUnavailable
from gateway.engine.deliveries import QueueLimits
from gateway.engine.memory import MemoryEngine
from gateway.engine.redis import RedisConfigError, RedisEngine, RedisOptions
from gateway.engine.redis.connection import describe


def queue_limits(settings: Settings) -> QueueLimits:
    return QueueLimits(
        max_queued_bytes=settings.subscriber_max_queued_bytes,
        max_dead_bytes=settings.subscriber_max_dead_bytes,
    )


def redis_options(settings: Settings) -> RedisOptions:
    """The `GATEWAY_REDIS_*` settings; ConfigError (one line) when they do not fit."""
    assert settings.redis_url is not None
    try:
        return RedisOptions(
            url=settings.redis_url,
            key_prefix=settings.redis_key_prefix,
            tls_ca_file=settings.redis_tls_ca_file,
            tls_cert_file=settings.redis_tls_cert_file,
            tls_key_file=settings.redis_tls_key_file,
            pool_size=settings.redis_pool_size,
            connect_timeout_seconds=settings.redis_connect_timeout_seconds,
            timeout_seconds=settings.redis_timeout_seconds,
        )
    except RedisConfigError as exc:
        raise ConfigError(str(exc)) from None


async def open_engine(settings: Settings) -> Engine:
    """The engine, ready: a Redis engine has checked its deployment (reachable, not
    evicting, the same key layout) or refused with a one-line ConfigError."""
    if not settings.redis_url:
        return MemoryEngine(limits=queue_limits(settings))
    engine = RedisEngine(redis_options(settings), limits=queue_limits(settings))
    try:
        await engine.start()
    except (RedisConfigError, EngineUnavailable) as exc:
        await engine.close()
        raise ConfigError(describe(exc)) from None
    return engine
