"""Shared state behind one narrow async interface: event log, dedup, registries, queues.

`Engine` composes one store per job. The in-memory engine is the only one so far; the
protocols are shaped so that a Redis engine (streams, sorted sets, hashes) can implement
them. Everything crossing the interface is bytes, strings or plain JSON-compatible values,
so no Python object is ever shared between a writer and its readers.
"""

from gateway.engine.base import Engine, EngineUnavailable
from gateway.engine.events import AppendResult, EventLog, NewEvent, StoredEvent, event_id_at

__all__ = [
    "AppendResult",
    "Engine",
    "EngineUnavailable",
    "EventLog",
    "NewEvent",
    "StoredEvent",
    "event_id_at",
]
