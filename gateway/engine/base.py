"""The engine: one object per process composing the stores every feature needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.engine.deliveries import DeliveryQueue
from gateway.engine.events import EventLog
from gateway.engine.presence import PresenceStore
from gateway.engine.registry import Registry
from gateway.engine.throttle import Throttle
from gateway.errors import Unavailable


class EngineUnavailable(Unavailable):
    """The engine cannot be reached; the request answers 503 and nothing was accepted."""


@dataclass(frozen=True, slots=True)
class EngineStats:
    """What an engine knows of its own health, read without I/O (for `/metrics`)."""

    errors: int = 0
    """Calls that failed as unavailable since the process started."""
    reader_lag_seconds: float = 0.0
    """How far this process's reading of the shared event log is behind (0 in-process)."""


class Engine(Protocol):
    """`instance_id` names this process among all sharing the engine (presence records and
    delivery leases carry it). Every method of every store either completes as one atomic
    step or raises `EngineUnavailable` having changed nothing."""

    name: str
    instance_id: str
    events: EventLog
    registry: Registry
    presence: PresenceStore
    deliveries: DeliveryQueue
    throttle: Throttle

    async def ping(self) -> None:
        """Raise `EngineUnavailable` unless the engine answers."""
        ...

    def stats(self) -> EngineStats: ...

    async def close(self) -> None: ...
