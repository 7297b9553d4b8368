"""The event log's interface: an append-only, id-ordered log read by cursor, with dedup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MAX_SEQ = 999_999


def event_id_at(ms: int, seq: int = 0) -> str:
    """Gateway event ids: `<13-digit epoch ms>-<6-digit sequence>`, fixed width, sorting as
    strings in storage order. The time part also lets replay ranges map onto ids. A writer
    that would pass MAX_SEQ within one millisecond moves on to the next one instead."""
    return f"{ms:013d}-{seq:06d}"


def event_id_ms(event_id: str) -> int:
    return int(event_id[:13])


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to store. `body` is the activity as JSON bytes without its `id`."""

    dedup_key: str
    hub_id: str
    conversation_id: str | None
    type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A stored event. `payload` is the whole activity JSON, id included, encoded once and
    sent as these same bytes to every session and subscriber."""

    id: str
    hub_id: str
    conversation_id: str | None
    type: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class AppendResult:
    stored: list[StoredEvent]
    duplicates: int


def with_id(event_id: str, body: bytes) -> bytes:
    """Splice the id in as the first key of an encoded, non-empty JSON object."""
    return b'{"id":"' + event_id.encode() + b'",' + body[1:]


class EventLog(Protocol):
    async def append(self, events: Sequence[NewEvent], dedup_ttl_seconds: float) -> AppendResult:
        """Store every event whose dedup key is new, all of them or none, in order."""
        ...

    async def read_after(self, cursor: str, limit: int) -> list[StoredEvent]:
        """Up to `limit` events with ids greater than `cursor`, oldest first."""
        ...

    async def wait_after(self, cursor: str, limit: int, wait_seconds: float) -> list[StoredEvent]:
        """Like `read_after`, but waits up to `wait_seconds` for an event to arrive."""
        ...

    async def last_id(self) -> str:
        """The newest id stored, or the history floor when the log is empty: where a reader
        that wants only new events starts."""
        ...

    async def history_floor(self) -> str:
        """Every event with an id above the floor is still stored (resume is complete)."""
        ...

    async def trim(self, older_than_ms: int) -> int:
        """Drop events and dedup keys older than the cutoff; return how many events went."""
        ...
