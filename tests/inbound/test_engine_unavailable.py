"""An engine that fails at append: 503, nothing stored, and the retry is accepted."""

from __future__ import annotations

from collections.abc import Sequence

from inbound_support import (
    HUBSTER_HUB,
    HUBSTER_TENANT,
    GatewayFactory,
    fixture_bytes,
    hubster_headers,
)

from gateway.engine import AppendResult, EngineUnavailable, EventLog, NewEvent
from gateway.engine.memory import MemoryEngine


class FailingEventLog:
    """The real event log behind a switch: `failing` makes every append raise."""

    def __init__(self, inner: EventLog) -> None:
        self.inner = inner
        self.failing = False

    async def append(self, events: Sequence[NewEvent], dedup_ttl_seconds: float) -> AppendResult:
        if self.failing:
            raise EngineUnavailable("append refused by the test")
        return await self.inner.append(events, dedup_ttl_seconds)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_append_failure_is_503_and_nothing_is_stored(make_gateway: GatewayFactory) -> None:
    engine = MemoryEngine()
    events = FailingEventLog(engine.events)
    engine.events = events  # type: ignore[assignment]
    gateway = await make_gateway(engine)
    integration = await gateway.create("hubster-system", HUBSTER_HUB, HUBSTER_TENANT)
    body = fixture_bytes("hubster-system-messages.json")

    events.failing = True
    response = await gateway.post(integration, body, hubster_headers(body, integration))
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "unavailable"
    assert await events.inner.read_after("0", 100) == []
    assert (
        await gateway.metric('gateway_webhooks_total{kind="hubster-system",outcome="unavailable"}')
        == 1
    )

    events.failing = False
    response = await gateway.post(integration, body, hubster_headers(body, integration))
    assert await response.json() == {"accepted": 2, "duplicates": 0}
