"""Fault injection at the registry boundary: a wrapper that lets a competing write land in
the window between a caller's read and its write — the window a slow caller (a PATCH
awaiting its body and a DNS check) has, or a second process has — so lost updates show."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


class Interleaving:
    """The wrapped registry, except that once armed, on the `on_read`th read of the record
    and the `times - 1` reads after it, `competing()` runs to completion before the reader
    gets back what it read (by then stale). Reads pass through untouched otherwise, so it
    wraps any registry, whatever its records look like."""

    def __init__(self, inner: Any, competing: Callable[[], Awaitable[object]]) -> None:
        self.inner = inner
        self.competing = competing
        self.fired = 0
        self._record_id: str | None = None
        self._skip = 0
        self._left = 0

    def arm(self, record_id: str, *, on_read: int = 1, times: int = 1) -> None:
        self._record_id, self._skip, self._left = record_id, on_read - 1, times

    async def get(self, kind: str, record_id: str) -> Any:
        found = await self.inner.get(kind, record_id)
        if record_id == self._record_id and self._left:
            if self._skip:
                self._skip -= 1
            else:
                self._left -= 1
                self.fired += 1
                await self.competing()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
