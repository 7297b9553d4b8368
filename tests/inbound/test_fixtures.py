"""Every shared fixture, posted through the real HTTP server, becomes exactly the activities
listed in fixtures/expected/."""

from __future__ import annotations

import pytest
from inbound_support import (
    HUBSTER_HUB,
    HUBSTER_TENANT,
    KIND_CONFIG,
    Gateway,
    expected,
    fixture_bytes,
    hubster_headers,
    is_subset,
    scg_headers,
    telnyx_headers,
)

from gateway.events.model import ActivityEvent

HUBSTER_FIXTURES = [
    ("hubster-system", "hubster-system-messages.json"),
    ("hubster-direct", "hubster-direct-agent-image.json"),
    ("hubster-direct", "hubster-direct-event-typing.json"),
]
SCG_FIXTURES = ["scg-receipt-delivered.json", "scg-mo-message.json"]
TELNYX_FIXTURES = [
    "telnyx-message-received.json",
    "telnyx-message-sent.json",
    "telnyx-message-finalized.json",
]


@pytest.mark.parametrize(("kind", "name"), HUBSTER_FIXTURES)
async def test_hubster_fixture_becomes_expected_activities(
    gateway: Gateway, kind: str, name: str
) -> None:
    integration = await gateway.create(kind, HUBSTER_HUB, HUBSTER_TENANT)
    body = fixture_bytes(name)
    response = await gateway.post(integration, body, hubster_headers(body, integration))
    want = expected(name)
    assert response.status == 202, await response.text()
    assert await response.json() == {"accepted": len(want), "duplicates": 0}
    stored = await gateway.stored()
    assert is_subset(want, stored) == []
    assert all(item["integrationId"] == integration["integrationId"] for item in stored)


@pytest.mark.parametrize("name", SCG_FIXTURES)
async def test_scg_fixture_becomes_expected_activities(gateway: Gateway, name: str) -> None:
    integration = await gateway.create("scg", "sms-hub", "acme")
    body = fixture_bytes(name)
    response = await gateway.post(integration, body, scg_headers(integration))
    assert response.status == 202, await response.text()
    assert is_subset(expected(name), await gateway.stored()) == []


@pytest.mark.parametrize("name", TELNYX_FIXTURES)
async def test_telnyx_fixture_becomes_expected_activities(gateway: Gateway, name: str) -> None:
    integration = await gateway.create(
        "telnyx", "sms-hub", "acme", configuration=dict(KIND_CONFIG["telnyx"])
    )
    body = fixture_bytes(name)
    response = await gateway.post(integration, body, telnyx_headers(body, integration))
    assert response.status == 202, await response.text()
    assert await response.json() == {"accepted": 1, "duplicates": 0}
    assert is_subset(expected(name), await gateway.stored()) == []
    for event in await gateway.engine.events.read_after("0", 10):
        ActivityEvent.model_validate_json(event.payload)


async def test_scg_receipt_and_mo_of_one_thread_share_a_conversation(gateway: Gateway) -> None:
    integration = await gateway.create("scg", "sms-hub", "acme")
    for name in SCG_FIXTURES:
        body = fixture_bytes(name)
        response = await gateway.post(integration, body, scg_headers(integration))
        assert response.status == 202
    receipt, message = await gateway.stored()
    assert receipt["type"] == "receipt:delivered"
    assert message["type"] == "message:customer"
    assert receipt["conversationId"] is not None
    assert receipt["conversationId"] == message["conversationId"]


async def test_stored_activities_have_gateway_ids_and_canonical_times(gateway: Gateway) -> None:
    integration = await gateway.create("hubster-system", HUBSTER_HUB, HUBSTER_TENANT)
    body = fixture_bytes("hubster-system-messages.json")
    await gateway.post(integration, body, hubster_headers(body, integration))
    first, second = await gateway.stored()
    assert first["id"] < second["id"]
    assert list(first)[:4] == ["id", "type", "occurredAt", "receivedAt"]
    assert first["receivedAt"].endswith("Z") and len(first["receivedAt"]) == 24
