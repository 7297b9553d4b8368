"""Integrations in the engine's registry (kind `integration`), as validated records."""

from __future__ import annotations

from gateway.engine.registry import Registry
from gateway.integrations.model import Integration

RECORD_KIND = "integration"


class IntegrationStore:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def get(self, integration_id: str) -> Integration | None:
        record = await self._registry.get(RECORD_KIND, integration_id)
        return None if record is None else Integration.model_validate(record)

    async def put(self, integration: Integration) -> None:
        record = integration.model_dump(by_alias=True)
        await self._registry.put(RECORD_KIND, integration.integration_id, record)

    async def list(self, hub_id: str | None = None) -> list[Integration]:
        records = await self._registry.list(RECORD_KIND)
        integrations = [Integration.model_validate(record) for record in records]
        return [item for item in integrations if hub_id is None or item.hub_id == hub_id]

    async def delete(self, integration_id: str) -> bool:
        return await self._registry.delete(RECORD_KIND, integration_id)
