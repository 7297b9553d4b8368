"""The per-request log line, written without the `logging` machinery.

A line per request is the most frequent thing the gateway logs, and going through `logging`
(a record, the JSON formatter walking its attributes, a write and flush per line) cost more
than verifying the request's signature. Here each line is one `orjson.dumps` into a buffer
that is written and flushed once per event-loop iteration. The shape is the JSON log's.

The workers of `serve --workers N` share one stderr, often a pipe (journald, Docker): a
write to a pipe is atomic only up to `PIPE_BUF` (4096 bytes on Linux), so a loop
iteration's lines go out in writes of whole lines at most that long, and two workers' lines
are never spliced into one.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import BinaryIO

import orjson

from gateway.logs import process_fields
from gateway.times import format_log_time

LOGGER_NAME = "gateway.access"
ATOMIC_WRITE_BYTES = 4096
"""POSIX's minimum `PIPE_BUF`, Linux's value: the longest write a pipe keeps whole."""
MAX_LOGGED_PATH = 256
"""A path longer than this is logged cut, with a marker saying how much was left out: a
client chooses the path, and an unmatched one would otherwise fill a log line."""


def _cut(path: str) -> str:
    return f"{path[:MAX_LOGGED_PATH]}...[{len(path) - MAX_LOGGED_PATH} more characters]"


class AccessLog:
    def __init__(self, stream: BinaryIO | None = None) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._enabled = logging.getLogger(LOGGER_NAME).isEnabledFor(logging.INFO)
        self._common = {"level": "info", "logger": LOGGER_NAME, "msg": "request"}
        self._common.update(process_fields())

    def request(
        self,
        method: str,
        route: str,
        path: str,
        status: int,
        seconds: float,
        request_id: str,
        remote_address: str,
    ) -> None:
        """The line of one answered request."""
        if not self._enabled:
            return
        line = {
            "ts": format_log_time(time.time()),
            **self._common,
            "method": method,
            "route": route,
            "path": path if len(path) <= MAX_LOGGED_PATH else _cut(path),
            "status": status,
            "durationMs": round(seconds * 1000, 3),
            "requestId": request_id,
            "remoteAddress": remote_address,
        }
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(orjson.dumps(line))

    def flush(self) -> None:
        if not self._pending:
            return
        stream = self._stream or sys.stderr.buffer
        for chunk in _whole_lines(self._pending, ATOMIC_WRITE_BYTES):
            stream.write(chunk)
            stream.flush()
        self._pending.clear()


def _whole_lines(lines: list[bytes], limit: int) -> list[bytes]:
    """The lines, newline-terminated, joined into as few writes of at most `limit` bytes as
    they fit in (a longer line is a write of its own)."""
    chunks: list[bytes] = []
    start, size = 0, 0
    for index, line in enumerate(lines):
        if size and size + len(line) + 1 > limit:
            chunks.append(b"\n".join(lines[start:index]) + b"\n")
            start, size = index, 0
        size += len(line) + 1
    chunks.append(b"\n".join(lines[start:]) + b"\n")
    return chunks
