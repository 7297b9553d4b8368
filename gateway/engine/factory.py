"""The engine a configuration asks for. The Redis engine plugs in here."""

from __future__ import annotations

from gateway.config import ConfigError, Settings
from gateway.engine.base import Engine
from gateway.engine.deliveries import QueueLimits
from gateway.engine.memory import MemoryEngine


def queue_limits(settings: Settings) -> QueueLimits:
    return QueueLimits(
        max_queued_bytes=settings.subscriber_max_queued_bytes,
        max_dead_bytes=settings.subscriber_max_dead_bytes,
    )


def create_engine(settings: Settings) -> Engine:
    if settings.redis_url:
        raise ConfigError("GATEWAY_REDIS_URL is set, but this build has no Redis engine yet")
    return MemoryEngine(limits=queue_limits(settings))
