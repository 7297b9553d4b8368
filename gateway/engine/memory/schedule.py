"""`Schedule`: keys scored by a time, earliest first — the memory engine's stand-in for a
Redis sorted set. A heap with lazy deletion: an entry whose time no longer matches the
key's score is stale and skipped; the heap is rebuilt when stale entries pile up."""

from __future__ import annotations

import heapq
import itertools

_COMPACT_SLACK = 1024


class Schedule:
    def __init__(self) -> None:
        self._score: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._score)

    def __contains__(self, key: str) -> bool:
        return key in self._score

    def items(self) -> list[tuple[str, float]]:
        return list(self._score.items())

    def set(self, key: str, at: float) -> None:
        """Score `key` at `at`; among equal times, the key set first comes first."""
        if self._score.get(key) == at:
            return
        self._score[key] = at
        heapq.heappush(self._heap, (at, next(self._order), key))
        if len(self._heap) > 2 * len(self._score) + _COMPACT_SLACK:
            self._heap = [entry for entry in self._heap if self._score.get(entry[2]) == entry[0]]
            heapq.heapify(self._heap)

    def remove(self, key: str) -> None:
        self._score.pop(key, None)

    def earliest(self) -> float | None:
        while self._heap:
            at, _, key = self._heap[0]
            if self._score.get(key) == at:
                return at
            heapq.heappop(self._heap)
        return None

    def pop_due(self, now: float) -> str | None:
        """The earliest key scored at or before `now`, removed; None when there is none."""
        at = self.earliest()
        if at is None or at > now:
            return None
        key = heapq.heappop(self._heap)[2]
        del self._score[key]
        return key

    def due(self, now: float) -> list[str]:
        """Every key scored at or before `now`, earliest first, left in place. Walks only
        the part of the heap at or before `now` (a child is never earlier than its parent),
        so the cost is what is due, not what is held."""
        found: list[tuple[float, int, str]] = []
        stack = [0] if self._heap else []
        while stack:
            index = stack.pop()
            entry = self._heap[index]
            if entry[0] > now:
                continue
            if self._score.get(entry[2]) == entry[0]:
                found.append(entry)
            stack.extend(
                child for child in (2 * index + 1, 2 * index + 2) if child < len(self._heap)
            )
        return list(dict.fromkeys(key for _, _, key in sorted(found)))
