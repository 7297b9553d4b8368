"""The engine a configuration asks for: the embedded memory engine, or Redis when
`GATEWAY_REDIS_URL` is set; either with its credentials sealed at rest when master keys are
configured (always with Redis)."""

from __future__ import annotations

from gateway.config import ConfigError, Settings
from gateway.credentials.sealing import MAKE_A_KEY, MasterKeys, SealedRegistry, parse_master_keys
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
            wait_replicas=settings.redis_wait_replicas,
            wait_timeout_seconds=settings.redis_wait_timeout_seconds,
        )
    except RedisConfigError as exc:
        raise ConfigError(str(exc)) from None


def check_engine_settings(settings: Settings) -> MasterKeys | None:
    """What the engine needs of the settings, checked without connecting to anything:
    well-formed master keys (None when there are none), and for Redis its own settings and
    the secrets that every process sharing it must agree on. `ConfigError`, one line."""
    keys = parse_master_keys(settings.master_keys)
    if settings.redis_url:
        redis_options(settings)
        if not keys:
            raise ConfigError(
                "the Redis engine needs GATEWAY_MASTER_KEYS: credentials are stored "
                f"encrypted under them (make a key with {MAKE_A_KEY})"
            )
        if settings.admin_key is None:
            raise ConfigError(
                "the Redis engine needs GATEWAY_ADMIN_KEY: every process sharing Redis must "
                "accept the same admin key (a generated one differs per process)"
            )
        if settings.jwt_secret is None:
            raise ConfigError(
                "the Redis engine needs GATEWAY_JWT_SECRET: every process sharing Redis must "
                "accept the agent tokens the others mint (a generated one differs per process)"
            )
    return MasterKeys(keys) if keys else None


async def open_engine(settings: Settings) -> Engine:
    """The engine, ready: a Redis engine has checked its deployment (reachable, not
    evicting, the same key layout), and stored credentials open under the master keys; or
    a one-line ConfigError."""
    keys = check_engine_settings(settings)
    engine: Engine
    if not settings.redis_url:
        engine = MemoryEngine(limits=queue_limits(settings))
    else:
        engine = RedisEngine(redis_options(settings), limits=queue_limits(settings))
    try:
        if isinstance(engine, RedisEngine):
            await engine.start()
        if keys is not None:
            sealed = SealedRegistry(engine.registry, keys)
            await sealed.check()
            engine.registry = sealed
    except ConfigError:
        await engine.close()
        raise
    except (RedisConfigError, EngineUnavailable) as exc:
        await engine.close()
        raise ConfigError(describe(exc)) from None
    return engine
