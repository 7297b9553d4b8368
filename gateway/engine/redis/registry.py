"""Registries in hashes: one per kind, id -> `<creation seq>:<version>:<record json>`, and
one hash of change counters by kind. Creation, compare-and-set and deletion are scripts that
move the kind's counter in the same step; the counter also numbers creations, so `list`
returns records in creation order from one `HVALS`. Lookups of one kind made in the same
turn of the loop go out as one `HMGET` (`batching.py`): under load every webhook looks its
integration up."""

from __future__ import annotations

import functools
from typing import Any

import orjson

from gateway.engine.redis.batching import Batcher
from gateway.engine.redis.connection import Link, guarded
from gateway.engine.registry import Record, RegistryConflict, Versioned


def _parse(value: bytes | str) -> tuple[int, Versioned]:
    raw = value.encode() if isinstance(value, str) else value
    seq, version, body = raw.split(b":", 2)
    return int(seq), Versioned(record=orjson.loads(body), version=int(version))


class RedisRegistry:
    def __init__(self, link: Link) -> None:
        self.link = link
        self._create = link.scripts.register("registry_create")
        self._replace = link.scripts.register("registry_replace")
        self._delete = link.scripts.register("registry_delete")
        self._gets: dict[str, Batcher[str, Any]] = {}

    def _keys(self, kind: str) -> list[str]:
        return [self.link.keys.records(kind), self.link.keys.registry_changes]

    @guarded
    async def create(self, kind: str, record_id: str, record: Record) -> tuple[Versioned, bool]:
        value, created = await self._create(
            self._keys(kind), [kind, record_id, orjson.dumps(record)]
        )
        return _parse(value)[1], bool(created)

    @guarded
    async def get(self, kind: str, record_id: str) -> Versioned | None:
        gets = self._gets.get(kind)
        if gets is None:
            gets = self._gets[kind] = Batcher(functools.partial(self._get_many, kind), 256)
        (value,) = await gets.call((record_id,))
        return None if value is None else _parse(value)[1]

    async def _get_many(self, kind: str, record_ids: list[str]) -> list[Any]:
        values: list[Any] = await self.link.redis.hmget(self.link.keys.records(kind), record_ids)
        return values

    @guarded
    async def replace(
        self, kind: str, record_id: str, record: Record, expected_version: int
    ) -> Versioned:
        version = await self._replace(
            self._keys(kind), [kind, record_id, orjson.dumps(record), expected_version]
        )
        if not version:
            raise RegistryConflict(f"{kind} {record_id}: not at version {expected_version}")
        return Versioned(record=orjson.loads(orjson.dumps(record)), version=int(version))

    @guarded
    async def list(self, kind: str) -> list[Versioned]:
        values = await self.link.redis.hvals(self.link.keys.records(kind))
        return [versioned for _, versioned in sorted(map(_parse, values), key=lambda p: p[0])]

    @guarded
    async def delete(self, kind: str, record_id: str) -> bool:
        return bool(await self._delete(self._keys(kind), [kind, record_id]))

    @guarded
    async def changes(self, kind: str) -> int:
        count = await self.link.redis.hget(self.link.keys.registry_changes, kind)
        return int(count or 0)
