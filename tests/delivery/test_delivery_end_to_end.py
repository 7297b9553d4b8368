"""End to end: a signed Hubster System webhook posted to `POST /webhooks/{id}` reaches a
standard subscriber as the stored activity and a hubster subscriber as the Hubster activities
the provider sent."""

from __future__ import annotations

from pathlib import Path

import orjson
from standardwebhooks.webhooks import Webhook as StandardWebhook

import signing
from tests.delivery.support import AUTH, HUB, TENANT, wait_until

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "hubster-system-messages.json"


async def test_provider_webhook_to_subscribers(make_gateway, make_sink):
    gateway = await make_gateway()
    standard_sink, hubster_sink = await make_sink(), await make_sink()
    standard = await gateway.create_subscriber(url=standard_sink.url(), events=["message"])
    hubster = await gateway.create_subscriber(
        url=hubster_sink.url(), events=["message:customer", "message:bot"], format="hubster"
    )
    response = await gateway.client.post(
        "/integrations",
        json={"name": "hub", "kind": "hubster-system", "hubId": HUB, "tenantId": TENANT},
        headers=AUTH,
    )
    assert response.status == 201
    integration = await response.json()
    body = FIXTURE.read_bytes()
    private_key = integration["configuration"]["privateSigningKey"]
    response = await gateway.client.post(
        f"/webhooks/{integration['integrationId']}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "x-hubster-signature": signing.hubster.sign(body, private_key),
            "x-hubster-public-key": integration["configuration"]["publicSigningKey"],
        },
    )
    assert response.status == 202, await response.text()

    await wait_until(lambda: len(standard_sink.received) == 2, message="standard deliveries")
    await wait_until(lambda: len(hubster_sink.received) == 2, message="hubster deliveries")

    sent = orjson.loads(body)
    for received, original in zip(standard_sink.received, sent["activities"], strict=True):
        StandardWebhook(standard["secret"]).verify(received.body, received.headers)
        stored = received.json()
        assert stored["id"] == received.headers["webhook-id"]
        assert stored["type"] == original["eventTrigger"]
        assert stored["message"] == original["message"]
        assert stored["integrationId"] == integration["integrationId"]

    by_event = {r.json()["activities"][0]["eventId"]: r for r in hubster_sink.received}
    for original in sent["activities"]:
        received = by_event[original["eventId"]]
        signature = received.headers["x-hubster-signature"]
        signing.hubster.verify(received.body, signature, [hubster["privateSigningKey"]])
        delivered = received.json()
        assert delivered["conversationId"] == sent["conversationId"]
        assert delivered["conversationProperties"] == sent["conversationProperties"]
        [round_trip] = delivered["activities"]
        for field in ("type", "eventTrigger", "eventId", "externalId", "isEcho", "message"):
            assert round_trip[field] == original[field], field
        assert round_trip["interactionId"] == original["interactionId"]
        assert round_trip["flowProcess"] == original["flowProcess"]
        for side in ("sender", "recipient"):
            assert round_trip[side] == original[side], side
