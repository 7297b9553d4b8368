"""The per-request log line, written without the `logging` machinery.

A line per request is the most frequent thing the gateway logs, and going through `logging`
(a record, the JSON formatter walking its attributes, a write and flush per line) cost more
than verifying the request's signature. Here each line is one `orjson.dumps` into a buffer
that is written and flushed once per event-loop iteration. The shape is the JSON log's.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from functools import lru_cache
from typing import Any, BinaryIO

import orjson

LOGGER_NAME = "gateway.access"


@lru_cache(maxsize=256)
def _second_text(epoch_second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_second))


def timestamp(epoch: float) -> str:
    """`2026-11-23T15:29:51.036+00:00`, as the JSON formatter writes it."""
    second = int(epoch)
    return f"{_second_text(second)}.{int((epoch - second) * 1000):03d}+00:00"


class AccessLog:
    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._enabled = logging.getLogger(LOGGER_NAME).isEnabledFor(logging.INFO)

    def write(self, fields: dict[str, Any]) -> None:
        if not self._enabled:
            return
        line = {"ts": timestamp(time.time()), "level": "info", "logger": LOGGER_NAME}
        line["msg"] = "request"
        line.update(fields)
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(orjson.dumps(line))

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"\n".join(self._pending) + b"\n"
        self._pending.clear()
        stream = self._stream or sys.stderr.buffer
        stream.write(data)
        stream.flush()
