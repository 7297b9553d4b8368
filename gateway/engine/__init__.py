"""Shared state behind one narrow async interface: event log, dedup, registries, queues,
presence and throttles.

`Engine` composes one store per job; each store's module documents its protocol, shaped so
that a Redis engine (streams, sorted sets, hashes, one Lua script per method) implements it
as well as the in-memory one. Everything crossing the interface is bytes, strings or plain
JSON-compatible values, so no Python object is ever shared between a writer and its readers.
`factory.open_engine` opens the engine a configuration asks for.
"""

from gateway.engine.base import Engine, EngineUnavailable
from gateway.engine.events import AppendResult, EventLog, NewEvent, StoredEvent

__all__ = [
    "AppendResult",
    "Engine",
    "EngineUnavailable",
    "EventLog",
    "NewEvent",
    "StoredEvent",
]
