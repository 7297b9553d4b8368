"""In-memory registry. Records are kept encoded, so callers never share a mutable object,
each with its version; a change counter per kind serves `changes`."""

from __future__ import annotations

from collections import Counter

import orjson

from gateway.engine.registry import Record, RegistryConflict, Versioned


class MemoryRegistry:
    def __init__(self) -> None:
        self._records: dict[str, dict[str, tuple[bytes, int]]] = {}
        self._changes: Counter[str] = Counter()

    def _read(self, kind: str, record_id: str) -> Versioned | None:
        stored = self._records.get(kind, {}).get(record_id)
        return None if stored is None else Versioned(dict(orjson.loads(stored[0])), stored[1])

    def _write(self, kind: str, record_id: str, record: Record, version: int) -> Versioned:
        encoded = orjson.dumps(record)
        self._records.setdefault(kind, {})[record_id] = (encoded, version)
        self._changes[kind] += 1
        return Versioned(dict(orjson.loads(encoded)), version)

    async def create(self, kind: str, record_id: str, record: Record) -> tuple[Versioned, bool]:
        existing = self._read(kind, record_id)
        if existing is not None:
            return existing, False
        return self._write(kind, record_id, record, 1), True

    async def get(self, kind: str, record_id: str) -> Versioned | None:
        return self._read(kind, record_id)

    async def replace(
        self, kind: str, record_id: str, record: Record, expected_version: int
    ) -> Versioned:
        stored = self._records.get(kind, {}).get(record_id)
        if stored is None or stored[1] != expected_version:
            found = "gone" if stored is None else f"at version {stored[1]}"
            raise RegistryConflict(
                f"{kind} {record_id}: expected version {expected_version}, {found}"
            )
        return self._write(kind, record_id, record, expected_version + 1)

    async def list(self, kind: str) -> list[Versioned]:
        return [
            Versioned(dict(orjson.loads(encoded)), version)
            for encoded, version in self._records.get(kind, {}).values()
        ]

    async def delete(self, kind: str, record_id: str) -> bool:
        if self._records.get(kind, {}).pop(record_id, None) is None:
            return False
        self._changes[kind] += 1
        return True

    async def changes(self, kind: str) -> int:
        return self._changes[kind]
