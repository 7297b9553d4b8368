"""JSON log lines on stderr: one object per line, so log shippers need no parsing rules.

A worker of `serve --workers N` adds its id to every line (`"worker": 2`): the workers share
one stderr, and a line must say which process wrote it."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

from gateway.times import format_log_time

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

_process_fields: dict[str, Any] = {}


def process_fields() -> dict[str, Any]:
    """What every line of this process carries (the worker's id, in a worker)."""
    return dict(_process_fields)


class JsonFormatter(logging.Formatter):
    """Render a record and the `extra` fields given to it as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": format_log_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_process_fields,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str, *, worker: int | None = None) -> None:
    _process_fields.clear()
    if worker is not None:
        _process_fields["worker"] = worker
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").disabled = True
    logging.captureWarnings(True)  # library warnings become JSON lines too
