"""Dedup outlives the history: a provider redelivering after its event left the event log
(Hubster and Twilio carry no timestamp to refuse a replay by) is still answered as a
duplicate for `GATEWAY_DEDUP_SECONDS`, and only that long."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from inbound_support import GatewayFactory, fixture_bytes, scg_headers

from tests.http.hostile_probes import metric
from tests.running_gateway import HUBSTER_HUB, hubster_system, running

BODY = fixture_bytes("scg-receipt-delivered.json")


async def post(gateway: Any, integration: dict[str, Any]) -> Any:
    response = await gateway.post(integration, BODY, scg_headers(integration))
    assert response.status == 202, await response.text()
    return await response.json()


async def test_a_redelivery_after_the_history_was_trimmed_is_a_duplicate(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(history_seconds=1, dedup_seconds=3600)
    scg = await gateway.create("scg", "sms-hub", "acme")
    assert await post(gateway, scg) == {"accepted": 1, "duplicates": 0}
    await asyncio.sleep(0.01)
    # what the retention loop does once the history's second has passed
    assert await gateway.engine.events.trim(int(time.time() * 1000), 1 << 30) == 1
    assert await gateway.stored() == []
    assert await post(gateway, scg) == {"accepted": 0, "duplicates": 1}


async def test_a_redelivery_after_the_dedup_window_is_new(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(history_seconds=0.2, dedup_seconds=0.2)
    scg = await gateway.create("scg", "sms-hub", "acme")
    assert await post(gateway, scg) == {"accepted": 1, "duplicates": 0}
    assert await post(gateway, scg) == {"accepted": 0, "duplicates": 1}
    await asyncio.sleep(0.3)
    assert await post(gateway, scg) == {"accepted": 1, "duplicates": 0}


def test_a_real_gateway_answers_a_hubster_redelivery_after_its_history_as_a_duplicate(
    engine_env: dict[str, str],
) -> None:
    """The review's probe against a real `python -m gateway serve`: a Hubster webhook (no
    timestamp to refuse a replay by) sent again once its events have left the history.
    Its dedup keys outlive the history (`GATEWAY_DEDUP_SECONDS`), so it is a duplicate, on
    either engine."""
    env = {**engine_env, "GATEWAY_HISTORY_SECONDS": "1", "GATEWAY_DEDUP_SECONDS": "3600"}
    events = "gateway_event_log_events"
    with running(env=env) as gateway:
        integration = gateway.integration("hubster-system", HUBSTER_HUB)
        body = hubster_system(
            "c1", {"type": "text", "text": "once"}, {"type": "text", "text": "twice"}
        )
        assert gateway.post(integration, body) == {"accepted": 2, "duplicates": 0}
        wait_for(lambda: metric(gateway.process, events) == 2, "the events in the log")
        wait_for(lambda: metric(gateway.process, events) == 0, "the history trimmed")
        assert gateway.post(integration, body) == {"accepted": 0, "duplicates": 2}


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
