"""In-memory registry. Records are kept encoded so callers never share a mutable object."""

from __future__ import annotations

import orjson

from gateway.engine.registry import Record


class MemoryRegistry:
    def __init__(self) -> None:
        self._records: dict[str, dict[str, bytes]] = {}

    async def put(self, kind: str, record_id: str, record: Record) -> None:
        self._records.setdefault(kind, {})[record_id] = orjson.dumps(record)

    async def get(self, kind: str, record_id: str) -> Record | None:
        raw = self._records.get(kind, {}).get(record_id)
        return None if raw is None else dict(orjson.loads(raw))

    async def list(self, kind: str) -> list[Record]:
        return [dict(orjson.loads(raw)) for raw in self._records.get(kind, {}).values()]

    async def delete(self, kind: str, record_id: str) -> bool:
        return self._records.get(kind, {}).pop(record_id, None) is not None
