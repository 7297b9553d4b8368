"""The embedded in-memory engine: one process, nothing to install, nothing survives a restart."""

from __future__ import annotations

from gateway.engine.deliveries import DeliveryQueue
from gateway.engine.events import EventLog
from gateway.engine.memory.deliveries import MemoryDeliveryQueue
from gateway.engine.memory.events import MemoryEventLog
from gateway.engine.memory.presence import MemoryPresenceStore
from gateway.engine.memory.registry import MemoryRegistry
from gateway.engine.presence import PresenceStore
from gateway.engine.registry import Registry


class MemoryEngine:
    name = "memory"

    def __init__(self) -> None:
        self.events: EventLog = MemoryEventLog()
        self.registry: Registry = MemoryRegistry()
        self.presence: PresenceStore = MemoryPresenceStore()
        self.deliveries: DeliveryQueue = MemoryDeliveryQueue()

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
