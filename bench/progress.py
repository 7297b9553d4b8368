"""A one-line progress bar on stderr; plain start/finish lines when stderr is not a TTY."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

BAR_WIDTH = 30
REFRESH_SECONDS = 0.2


class Progress:
    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._tty = stream.isatty()

    def _draw(self, label: str, done: float) -> None:
        filled = int(BAR_WIDTH * min(done, 1.0))
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self._stream.write(f"\r  [{bar}] {label:<48.48}")
        self._stream.flush()

    def note(self, message: str) -> None:
        if self._tty:
            self._stream.write("\r" + " " * (BAR_WIDTH + 54) + "\r")
        self._stream.write(message + "\n")
        self._stream.flush()

    @asynccontextmanager
    async def phase(self, label: str, expected_seconds: float) -> AsyncIterator[None]:
        """Show `label` with a bar filling over `expected_seconds` while the body runs."""
        if not self._tty:
            self.note(f"  {label} ...")
            yield
            return
        started = time.monotonic()

        async def tick() -> None:
            while True:
                elapsed = time.monotonic() - started
                self._draw(label, elapsed / expected_seconds if expected_seconds > 0 else 1.0)
                await asyncio.sleep(REFRESH_SECONDS)

        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()
            self._draw(label, 1.0)
            self._stream.write("\n")
            self._stream.flush()
