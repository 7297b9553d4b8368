"""Integrations in the engine's registry (kind `integration`), as validated records.

Every change to a stored integration goes through `update` (a compare-and-set, retried on
conflict), so a slow writer never undoes a change that landed while it was working.
`IntegrationCache` is the webhook route's view: validated once per change, not per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from gateway.credentials.rotation import ValidCredentials
from gateway.engine.registry import Record, Registry, update
from gateway.integrations.model import Integration

RECORD_KIND = "integration"


def _record(integration: Integration) -> Record:
    return integration.model_dump(by_alias=True)


CHECK_SECONDS = 0.5
"""How often the cache asks the registry whether integrations changed: a change made
through another process reaches this one's webhook route within this time."""


class CachedIntegration:
    """One integration as the cache keeps it, with its credentials valid now."""

    __slots__ = ("_valid", "integration")

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        self._valid: ValidCredentials | None = None

    def credentials(self, now_ms: int) -> ValidCredentials:
        """The credentials valid at `now_ms`, worked out again only once a grace ended."""
        valid = self._valid
        if valid is None or not valid.holds_at(now_ms):
            valid = self._valid = self.integration.credentials.valid(now_ms)
        return valid


class IntegrationCache:
    """Integrations by id, as validated `Integration`s, for the webhook route: read and
    validated once per change of the registry instead of on every request.

    The registry's change counter for integrations (`Registry.changes`, which every process
    sharing the engine moves) says when to forget them. It is read at most once every
    `check_seconds` (with Redis a read is a round trip; the first request after the
    interval pays it), so a create, PATCH, pause, rotation or delete made through another
    process applies here within `check_seconds`. One made through this process applies to
    the next request: its `IntegrationStore` calls `forget` as it writes.

    Only integrations that exist are kept: an id from a request path that names none is
    looked up every time and never remembered, so the cache holds at most the integrations
    the operator created, whatever clients send."""

    def __init__(
        self,
        registry: Registry,
        check_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._check_seconds = check_seconds
        self._clock = clock
        self._by_id: dict[str, CachedIntegration] = {}
        self._changes: int | None = None
        self._checked_at = -math.inf
        self._generation = 0
        """Moves on every `forget`: a lookup that started before one keeps nothing."""

    async def get(self, integration_id: str) -> CachedIntegration | None:
        now = self._clock()
        if now - self._checked_at >= self._check_seconds:
            self._checked_at = now
            generation = self._generation
            changes = await self._registry.changes(RECORD_KIND)
            if changes != self._changes and generation == self._generation:
                self._by_id.clear()
                self._changes = changes
        cached = self._by_id.get(integration_id)
        if cached is not None:
            return cached
        generation = self._generation
        found = await IntegrationStore(self._registry).get(integration_id)
        if found is None:
            return None
        cached = CachedIntegration(found)
        if generation == self._generation:
            self._by_id[integration_id] = cached
        return cached

    def forget(self) -> None:
        """Integrations changed here: look everything up again, the change counter first."""
        self._by_id.clear()
        self._changes = None
        self._checked_at = -math.inf
        self._generation += 1


class IntegrationStore:
    def __init__(self, registry: Registry, cache: IntegrationCache | None = None) -> None:
        """`cache`: the process's webhook-route cache, told of every change written here."""
        self._registry = registry
        self._cache = cache

    def _changed(self) -> None:
        if self._cache is not None:
            self._cache.forget()

    async def get(self, integration_id: str) -> Integration | None:
        found = await self._registry.get(RECORD_KIND, integration_id)
        return None if found is None else Integration.model_validate(found.record)

    async def create(self, integration: Integration) -> Integration:
        """Store the integration unless its id exists; the one stored under the id."""
        stored, _ = await self._registry.create(
            RECORD_KIND, integration.integration_id, _record(integration)
        )
        self._changed()
        return Integration.model_validate(stored.record)

    async def update(
        self, integration_id: str, change: Callable[[Integration], Integration]
    ) -> Integration | None:
        """Apply `change` to the current integration (it may run more than once); None when
        there is no such integration."""

        def changed(record: Record) -> Record:
            return _record(change(Integration.model_validate(record)))

        try:
            stored = await update(self._registry, RECORD_KIND, integration_id, changed)
        finally:
            self._changed()
        return None if stored is None else Integration.model_validate(stored.record)

    async def list(self, hub_id: str | None = None) -> list[Integration]:
        records = await self._registry.list(RECORD_KIND)
        integrations = [Integration.model_validate(item.record) for item in records]
        return [item for item in integrations if hub_id is None or item.hub_id == hub_id]

    async def delete(self, integration_id: str) -> bool:
        try:
            return await self._registry.delete(RECORD_KIND, integration_id)
        finally:
            self._changed()
