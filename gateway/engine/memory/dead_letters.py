"""One subscriber's dead letters: encoded letters by event id (the hash) and the event ids
in order (the sorted set), with the bytes they hold, so both caps apply oldest event first."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field

import orjson

from gateway.engine.deliveries import DeadLetter, Record


@dataclass
class DeadLetters:
    letters: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    held_bytes: int = 0

    def keep(self, event_id: str, payload: bytes, record: Record) -> None:
        """Keep (or replace) the event's letter."""
        self.resolve(event_id)
        insort(self.order, event_id)
        self.letters[event_id] = (payload, orjson.dumps(record))
        self.held_bytes += len(payload)

    def resolve(self, event_id: str) -> None:
        letter = self.letters.pop(event_id, None)
        if letter is not None:
            del self.order[bisect_left(self.order, event_id)]
            self.held_bytes -= len(letter[0])

    def trim(self, max_letters: int, max_bytes: int) -> tuple[int, int]:
        """Drop the oldest events' letters until both caps hold; (letters, bytes) dropped."""
        count = freed = 0
        while count < len(self.order) and (
            len(self.order) - count > max_letters or self.held_bytes > max_bytes
        ):
            payload, _ = self.letters.pop(self.order[count])
            self.held_bytes -= len(payload)
            freed += len(payload)
            count += 1
        del self.order[:count]
        return count, freed

    def after(self, cursor: str, limit: int) -> list[DeadLetter]:
        start = bisect_right(self.order, cursor)
        return [
            DeadLetter(event_id, self.letters[event_id][0], orjson.loads(self.letters[event_id][1]))
            for event_id in self.order[start : start + limit]
        ]
