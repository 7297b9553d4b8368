"""End to end on one server: a provider's signed webhook reaches the agent of its hub, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook
from ws_helpers import ADMIN_KEY, next_frame

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ACTIVITY = {
    "type": "message:customer",
    "occurredAt": "2026-01-02T03:04:05.678Z",
    "conversationId": "conv-e2e",
    "channel": "WebChat",
    "source": {"provider": "standard", "eventId": "evt-1", "attempt": 1, "echo": False},
    "sender": {"role": "customer", "id": "cust-1", "address": None},
    "recipient": {"role": "agent", "id": "desk", "address": None},
    "message": {"type": "text", "text": "Where is my parcel?"},
    "receipt": None,
    "event": None,
    "data": {},
}


async def _agent(gw: Any, agent_id: str, hub_id: str) -> Any:
    response = await gw.client.put(
        "/agent/auth", json={"agentId": agent_id, "hubIds": [hub_id]}, headers=ADMIN
    )
    assert response.status == 200
    ws, _ = await gw.session((await response.json())["agentAuth"]["jwt"])
    return ws


async def test_webhook_to_agent_once(make_gateway: Any) -> None:
    gw = await make_gateway()
    created = await gw.client.post(
        "/integrations",
        json={"name": "shop", "kind": "standard", "hubId": "hub-e2e", "configuration": {}},
        headers=ADMIN,
    )
    assert created.status == 201, await created.text()
    integration = await created.json()
    agent = await _agent(gw, "ann", "hub-e2e")
    bystander = await _agent(gw, "bob", "hub-other")

    body = orjson.dumps(ACTIVITY).decode()
    now = datetime.now(UTC).replace(microsecond=0)
    signature = Webhook(integration["configuration"]["secret"]).sign("msg-e2e-1", now, body)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg-e2e-1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    url = f"/webhooks/{integration['integrationId']}"
    response = await gw.client.post(url, data=body, headers=headers)
    assert response.status == 202, await response.text()
    assert await response.json() == {"accepted": 1, "duplicates": 0}

    event = (await next_frame(agent, "event"))["event"]
    assert event["hubId"] == "hub-e2e"
    assert event["integrationId"] == integration["integrationId"]
    assert event["conversationId"] == "conv-e2e"
    assert event["message"]["text"] == "Where is my parcel?"

    again = await gw.client.post(url, data=body, headers=headers)
    assert await again.json() == {"accepted": 0, "duplicates": 1}
    for ws in (agent, bystander):
        with pytest.raises(asyncio.TimeoutError):
            await next_frame(ws, "event", timeout=0.3)
    assert gw.metric("gateway_ingest_to_fanout_seconds_count") >= 1
    await agent.close()
    await bystander.close()
