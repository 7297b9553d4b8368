"""The embedded in-memory engine: one process, nothing to install, nothing survives a restart.

Every method of every store runs to completion without awaiting (only the waits of
`wait_after` and `changes_after` suspend, and only while nothing is found), so each is one
atomic step, as the engine interface requires.
"""

from __future__ import annotations

import uuid

from gateway.engine.base import EngineStats
from gateway.engine.deliveries import DeliveryQueue, QueueLimits
from gateway.engine.events import EventLog
from gateway.engine.memory.deliveries import MemoryDeliveryQueue
from gateway.engine.memory.events import MemoryEventLog
from gateway.engine.memory.presence import MemoryPresenceStore
from gateway.engine.memory.registry import MemoryRegistry
from gateway.engine.memory.throttle import MemoryThrottle
from gateway.engine.presence import PresenceStore
from gateway.engine.registry import Registry
from gateway.engine.throttle import Throttle


class MemoryEngine:
    name = "memory"

    def __init__(
        self, *, limits: QueueLimits | None = None, instance_id: str | None = None
    ) -> None:
        self.instance_id = instance_id or uuid.uuid4().hex
        self.events: EventLog = MemoryEventLog()
        self.registry: Registry = MemoryRegistry()
        self.presence: PresenceStore = MemoryPresenceStore()
        self.deliveries: DeliveryQueue = MemoryDeliveryQueue(limits)
        self.throttle: Throttle = MemoryThrottle()

    async def ping(self) -> None:
        return None

    def stats(self) -> EngineStats:
        return EngineStats()

    async def close(self) -> None:
        return None
