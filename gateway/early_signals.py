"""SIGTERM or SIGINT arriving while `serve` is still importing and starting: remembered
instead of killing the process, and acted on (a clean exit 0) once the server is up to it.
Kept free of heavy imports so it can be installed first thing."""

from __future__ import annotations

import signal
from types import FrameType

_received: list[int] = []


def _remember(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)


def hold() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _remember)


def received() -> bool:
    return bool(_received)
