"""The fan-out loop under engine faults: it rides out `EngineUnavailable`, and its death is
reported by `/readyz` (fault injection at the engine boundary)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from ws_helpers import activity, agent_token, next_frame, publish

from gateway.engine.base import EngineUnavailable
from gateway.engine.events import StoredEvent
from gateway.engine.memory import MemoryEngine


def _is_fanout() -> bool:
    task = asyncio.current_task()
    return task is not None and task.get_name() == "loop:fanout"


class FaultyEvents:
    """The memory log, with `wait_after` failing on demand for the fan-out loop only (other
    loops read the same log and must stay healthy, so the 503 is the fan-out's alone)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.unavailable_for = 0
        self.crash: Exception | None = None

    async def wait_after(self, cursor: str, limit: int, wait_seconds: float) -> list[StoredEvent]:
        if self.crash is not None and _is_fanout():
            raise self.crash
        if self.unavailable_for > 0 and _is_fanout():
            self.unavailable_for -= 1
            raise EngineUnavailable("injected")
        result: list[StoredEvent] = await self._inner.wait_after(cursor, limit, wait_seconds)
        return result

    async def append(self, events: Sequence[Any], dedup_ttl_seconds: float) -> Any:
        return await self._inner.append(events, dedup_ttl_seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FaultyEngine(MemoryEngine):
    def __init__(self) -> None:
        super().__init__()
        self.faults = FaultyEvents(self.events)
        self.events = self.faults


async def _ready(gw: Any) -> tuple[int, dict[str, Any]]:
    response = await gw.client.get("/readyz")
    return response.status, await response.json()


async def test_fanout_survives_engine_unavailable(make_gateway: Any) -> None:
    engine = FaultyEngine()
    gw = await make_gateway(engine)
    ws, _ = await gw.session(agent_token("ann", ["hub-a"]))
    engine.faults.unavailable_for = 2
    first = await publish(engine, [activity("hub-a", "c1", seq=1)])
    assert (await next_frame(ws, "event"))["event"]["id"] == first[0].id
    during = await publish(engine, [activity("hub-a", "c1", seq=2)])
    assert (await next_frame(ws, "event"))["event"]["id"] == during[0].id
    assert engine.faults.unavailable_for == 0, "the outage was not seen by the fan-out loop"
    status, body = await _ready(gw)
    assert status == 200, body
    await ws.close()


async def test_readyz_503_when_the_fanout_loop_dies(make_gateway: Any) -> None:
    engine = FaultyEngine()
    gw = await make_gateway(engine)
    status, body = await _ready(gw)
    assert status == 200, body
    engine.faults.crash = RuntimeError("injected bug")
    await publish(engine, [activity("hub-a", "c1")])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status, body = await _ready(gw)
        if status == 503:
            break
        await asyncio.sleep(0.02)
    assert status == 503
    assert body["error"]["code"] == "unavailable"
    assert body["problems"] == ["loop fanout is not running"]
