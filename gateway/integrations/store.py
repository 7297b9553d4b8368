"""Integrations in the engine's registry (kind `integration`), as validated records.

Every change to a stored integration goes through `update` (a compare-and-set, retried on
conflict), so a slow writer never undoes a change that landed while it was working.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.engine.registry import Record, Registry, update
from gateway.integrations.model import Integration

RECORD_KIND = "integration"


def _record(integration: Integration) -> Record:
    return integration.model_dump(by_alias=True)


class IntegrationStore:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def get(self, integration_id: str) -> Integration | None:
        found = await self._registry.get(RECORD_KIND, integration_id)
        return None if found is None else Integration.model_validate(found.record)

    async def create(self, integration: Integration) -> Integration:
        """Store the integration unless its id exists; the one stored under the id."""
        stored, _ = await self._registry.create(
            RECORD_KIND, integration.integration_id, _record(integration)
        )
        return Integration.model_validate(stored.record)

    async def update(
        self, integration_id: str, change: Callable[[Integration], Integration]
    ) -> Integration | None:
        """Apply `change` to the current integration (it may run more than once); None when
        there is no such integration."""

        def changed(record: Record) -> Record:
            return _record(change(Integration.model_validate(record)))

        stored = await update(self._registry, RECORD_KIND, integration_id, changed)
        return None if stored is None else Integration.model_validate(stored.record)

    async def list(self, hub_id: str | None = None) -> list[Integration]:
        records = await self._registry.list(RECORD_KIND)
        integrations = [Integration.model_validate(item.record) for item in records]
        return [item for item in integrations if hub_id is None or item.hub_id == hub_id]

    async def delete(self, integration_id: str) -> bool:
        return await self._registry.delete(RECORD_KIND, integration_id)
