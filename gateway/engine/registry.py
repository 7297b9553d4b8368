"""Registries: JSON records (integrations, subscribers, ...) by kind and id."""

from __future__ import annotations

from typing import Any, Protocol

Record = dict[str, Any]


class Registry(Protocol):
    async def put(self, kind: str, record_id: str, record: Record) -> None: ...

    async def get(self, kind: str, record_id: str) -> Record | None: ...

    async def list(self, kind: str) -> list[Record]:
        """Every record of the kind, in creation order."""
        ...

    async def delete(self, kind: str, record_id: str) -> bool: ...
