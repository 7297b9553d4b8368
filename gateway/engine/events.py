"""The event log's interface: an append-only, id-ordered log read by cursor, with dedup.

Ids are those of `gateway.engine.ids`. Dedup keys live their own time (the dedup window,
`GATEWAY_DEDUP_SECONDS`), independent of how long events stay in the log: a provider that
redelivers after the history was trimmed is still recognised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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


@dataclass(frozen=True, slots=True)
class LogSize:
    """What the log holds now: events and the bytes of their payloads."""

    events: int
    bytes: int


def with_id(event_id: str, body: bytes) -> bytes:
    """Splice the id in as the first key of an encoded, non-empty JSON object."""
    return b'{"id":"' + event_id.encode() + b'",' + body[1:]


class EventLog(Protocol):
    async def append(self, events: Sequence[NewEvent], dedup_ttl_seconds: float) -> AppendResult:
        """Store every event whose dedup key is new (neither live in the dedup window nor
        earlier in this batch), in order, and set those keys to live `dedup_ttl_seconds`:
        all of it or none of it, as one atomic step. A webhook is never stored without its
        dedup keys, nor its keys set without it."""
        ...

    async def seen(self, dedup_keys: Sequence[str]) -> list[bool]:
        """For each key, whether it is live in the dedup window. Advisory (a redelivery can
        be answered without normalising it); `append` stays the authority."""
        ...

    async def read_after(self, cursor: str, limit: int) -> list[StoredEvent]:
        """Up to `limit` events with ids greater than `cursor`, oldest first."""
        ...

    async def wait_after(self, cursor: str, limit: int, wait_seconds: float) -> list[StoredEvent]:
        """Like `read_after`, but waits up to `wait_seconds` for an event to arrive. Many
        local callers may wait at once; an engine keeps at most one blocking read of its
        backing store per process and wakes them all from it."""
        ...

    async def last_id(self) -> str:
        """The newest id stored, or the history floor when the log is empty: where a reader
        that wants only new events starts."""
        ...

    async def history_floor(self) -> str:
        """Every event with an id above the floor is still stored (resume is complete)."""
        ...

    async def trim(self, older_than_ms: int, max_bytes: int) -> int:
        """Drop the events stored before `older_than_ms`, then the oldest further ones until
        the payloads kept add up to at most `max_bytes`; the floor rises to the newest id
        dropped. Also forget dedup keys past their window. Returns how many events went."""
        ...

    async def size(self) -> LogSize: ...
