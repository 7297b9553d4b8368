"""Registries: JSON records (integrations, subscribers, ...) by kind and id, each with a
version, so that every read-modify-write is a compare-and-set.

`update` is the one way to change a record that exists: read it, compute the new record,
write it only if nobody wrote in between, else read again and recompute. A slow caller (a
PATCH awaiting its body and a DNS check) therefore never silently undoes a change that
landed meanwhile (a rotation). `changes(kind)` moves on every write of the kind, so a hot
path can keep the list it read and re-read only after a change.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.errors import Unavailable

Record = dict[str, Any]

UPDATE_ATTEMPTS = 16
CONFLICT_BACKOFF_SECONDS = 0.001
CONFLICT_BACKOFF_CAP_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Versioned:
    """A record as stored and the version it was stored at (1 on creation, +1 per write)."""

    record: Record
    version: int


class RegistryConflict(Unavailable):
    """A compare-and-set found another version than expected (or the record gone). `update`
    retries on it; out of `update`, the record kept changing through every try, so nothing
    was written and a retry later will do: 503 `unavailable` with `Retry-After`."""

    RETRY_AFTER_SECONDS = 1
    MESSAGE = "The record kept changing while this request tried to update it; retry."


class Registry(Protocol):
    async def create(self, kind: str, record_id: str, record: Record) -> tuple[Versioned, bool]:
        """Store the record unless one with this id exists. Returns the record stored under
        the id and whether it is the caller's: of N processes creating one record at once,
        exactly one wins and every one gets the winner's record."""
        ...

    async def get(self, kind: str, record_id: str) -> Versioned | None: ...

    async def replace(
        self, kind: str, record_id: str, record: Record, expected_version: int
    ) -> Versioned:
        """Write the record if the stored one is still at `expected_version`; raise
        `RegistryConflict` when it is not (or is gone). Returns the new version."""
        ...

    async def list(self, kind: str) -> list[Versioned]:
        """Every record of the kind, in creation order."""
        ...

    async def delete(self, kind: str, record_id: str) -> bool: ...

    async def changes(self, kind: str) -> int:
        """A counter that moves on every create, replace and delete of the kind, in every
        process sharing the engine. Never goes back while the engine lives."""
        ...


async def update(
    registry: Registry,
    kind: str,
    record_id: str,
    change: Callable[[Record], Record | None],
) -> Versioned | None:
    """Apply `change` to the current record by compare-and-set, retrying on conflict.

    `change` gets a fresh copy each try and returns the record to write, or None to write
    nothing (the current record is returned). It must be pure: it may run several times.
    An exception it raises ends the update with nothing written. Returns None when there
    is no such record.

    After a conflict it waits a random while, up to a bound doubling per try: writers
    contending over a shared store (every process's over Redis) then spread out instead of
    reading the same version again together, where the last of many could lose every try."""
    for attempt in range(UPDATE_ATTEMPTS):
        current = await registry.get(kind, record_id)
        if current is None:
            return None
        new = change(current.record)
        if new is None:
            return current
        try:
            return await registry.replace(kind, record_id, new, current.version)
        except RegistryConflict:
            bound = min(CONFLICT_BACKOFF_CAP_SECONDS, CONFLICT_BACKOFF_SECONDS * 2**attempt)
            await asyncio.sleep(random.uniform(0, bound))
    raise RegistryConflict(f"{kind} {record_id}: still changing after {UPDATE_ATTEMPTS} tries")
