"""Subscribers in the engine's registry (kind `subscriber`), as `Subscriber` objects."""

from __future__ import annotations

from gateway.engine.registry import Registry
from gateway.subscribers.model import Subscriber

KIND = "subscriber"


class SubscriberStore:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def get(self, subscriber_id: str) -> Subscriber | None:
        record = await self._registry.get(KIND, subscriber_id)
        return None if record is None else Subscriber.from_record(record)

    async def list(self) -> list[Subscriber]:
        return [Subscriber.from_record(record) for record in await self._registry.list(KIND)]

    async def save(self, subscriber: Subscriber) -> None:
        await self._registry.put(KIND, subscriber.id, subscriber.to_record())

    async def delete(self, subscriber_id: str) -> bool:
        return await self._registry.delete(KIND, subscriber_id)
