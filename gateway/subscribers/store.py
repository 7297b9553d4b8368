"""Subscribers in the engine's registry (kind `subscriber`), as `Subscriber` objects.

Every change to a stored subscriber goes through `update` (a compare-and-set, retried on
conflict), so a slow writer never undoes a change that landed while it was working.
`SubscriberList` is the hot paths' view: it re-reads the registry only after a change.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.engine.registry import Record, Registry, update
from gateway.subscribers.model import Subscriber

KIND = "subscriber"


class SubscriberStore:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def get(self, subscriber_id: str) -> Subscriber | None:
        found = await self._registry.get(KIND, subscriber_id)
        return None if found is None else Subscriber.from_record(found.record)

    async def list(self) -> list[Subscriber]:
        return [Subscriber.from_record(item.record) for item in await self._registry.list(KIND)]

    async def create(self, subscriber: Subscriber) -> Subscriber:
        """Store the subscriber unless its id exists; the one stored under the id."""
        stored, _ = await self._registry.create(KIND, subscriber.id, subscriber.to_record())
        return Subscriber.from_record(stored.record)

    async def update(
        self, subscriber_id: str, change: Callable[[Subscriber], Subscriber | None]
    ) -> Subscriber | None:
        """Apply `change` to the current subscriber (it may run more than once; None writes
        nothing); None when there is no such subscriber."""

        def changed(record: Record) -> Record | None:
            new = change(Subscriber.from_record(record))
            return None if new is None else new.to_record()

        stored = await update(self._registry, KIND, subscriber_id, changed)
        return None if stored is None else Subscriber.from_record(stored.record)

    async def delete(self, subscriber_id: str) -> bool:
        return await self._registry.delete(KIND, subscriber_id)


class SubscriberList:
    """Every subscriber, read again only when the registry's change counter for subscribers
    moved: the dispatcher (every 50 ms) and the enqueuer (every batch) ask one counter, not
    for every record."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._store = SubscriberStore(registry)
        self._seen: int | None = None
        self._subscribers: dict[str, Subscriber] = {}

    async def current(self) -> dict[str, Subscriber]:
        """Subscribers by id, as of at least this call (the counter is read before the list,
        so a change landing in between is read again next time, never missed)."""
        changes = await self._registry.changes(KIND)
        if changes != self._seen:
            self._subscribers = {s.id: s for s in await self._store.list()}
            self._seen = changes
        return self._subscribers
