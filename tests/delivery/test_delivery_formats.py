"""What a subscriber receives: Standard Webhooks that the reference verifiers accept, Hubster
System webhooks signed with the subscriber's key pair, and only the events it asked for."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError
from svix.webhooks import Webhook as SvixWebhook

import signing
from tests.delivery.support import AUTH, HUB, INTEGRATION, TENANT, activity, queue_depth, wait_until

OTHER_HUB = "5d3e0b1c-0000-4000-8000-00000000beef"


async def settled(gateway: Any, last_event_id: str) -> bool:
    """The enqueuer has passed the event and no delivery is left in the queue."""
    queue = gateway.engine.deliveries
    return (
        await queue.cursor("delivery-enqueuer") == last_event_id
        and await queue_depth(gateway.engine) == 0
    )


async def test_standard_delivery_verifies_with_reference_libraries(make_gateway, make_sink):
    gateway = await make_gateway()
    sink = await make_sink()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    [event] = await gateway.store(activity("message:customer", text="Olá! 📦"))

    await wait_until(lambda: sink.received, message="the delivery")

    [received] = sink.received
    assert received.body == event.payload
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["webhook-id"] == event.id
    secret = subscriber["secret"]
    assert StandardWebhook(secret).verify(received.body, received.headers)["id"] == event.id
    SvixWebhook(secret).verify(received.body, received.headers)
    signing.standard.verify(received.headers, received.body, [secret])
    await wait_until(lambda: settled(gateway, event.id), message="an empty queue")
    [record] = await gateway.attempts(subscriber["subscriberId"])
    assert record["eventId"] == event.id
    assert record["attempt"] == 1
    assert record["status"] == "succeeded"
    assert record["responseStatus"] == 204
    assert record["nextAttemptAt"] is None


async def test_filters_by_exact_type_family_star_and_hub(make_gateway, make_sink):
    gateway = await make_gateway()
    exact, family, other_hub, everything = [await make_sink() for _ in range(4)]
    await gateway.create_subscriber(url=exact.url(), events=["receipt:delivered"])
    await gateway.create_subscriber(url=family.url(), events=["message", "event:typing_on"])
    await gateway.create_subscriber(url=other_hub.url(), events=["*"], hubIds=[OTHER_HUB])
    await gateway.create_subscriber(url=everything.url(), events=["*"])

    stored = await gateway.store(
        activity("message:customer"),
        activity("receipt:delivered"),
        activity("receipt:failed"),
        activity("event:typing_on"),
        activity("event:seen"),
        activity("message:agent", hub=OTHER_HUB),
        activity("consent:optout"),
    )
    await wait_until(lambda: settled(gateway, stored[-1].id), message="an empty queue")

    def types(sink: Any) -> list[str]:
        return [received.json()["type"] for received in sink.received]

    assert types(exact) == ["receipt:delivered"]
    assert sorted(types(family)) == ["event:typing_on", "message:agent", "message:customer"]
    assert types(other_hub) == ["message:agent"]
    assert sorted(types(everything)) == sorted(event.type for event in stored)


async def test_events_before_the_subscriber_existed_are_not_delivered(make_gateway, make_sink):
    gateway = await make_gateway()
    sink = await make_sink()
    [old] = await gateway.store(activity("message:customer", text="before"))
    await wait_until(lambda: settled(gateway, old.id), message="the enqueuer to pass it")
    await gateway.create_subscriber(url=sink.url(), events=["*"])
    [new] = await gateway.store(activity("message:customer", text="after"))

    await wait_until(lambda: settled(gateway, new.id), message="an empty queue")
    assert [received.json()["id"] for received in sink.received] == [new.id]


async def test_hubster_format_is_a_signed_system_webhook(make_gateway, make_sink):
    gateway = await make_gateway()
    sink = await make_sink()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"], format="hubster")
    message, receipt = await gateway.store(
        activity("message:customer", text="Where is my order?"), activity("receipt:delivered")
    )
    await wait_until(lambda: len(sink.received) == 2, message="both deliveries")

    by_trigger = {r.json()["activities"][0]["eventTrigger"]: r for r in sink.received}
    for received in sink.received:
        signature = received.headers["x-hubster-signature"]
        signing.hubster.verify(received.body, signature, [subscriber["privateSigningKey"]])
        assert received.headers["x-hubster-public-key"] == subscriber["publicSigningKey"]
        assert received.headers["x-hub-id"] == HUB
        assert received.headers["x-integration-id"] == INTEGRATION
        assert received.headers["x-conversation-id"] == message.conversation_id
        assert received.headers["x-source-system"] == "engine.hubster.io"  # as Hubster sends
        body = received.json()
        assert (body["hubId"], body["tenantId"]) == (HUB, TENANT)
        assert body["conversationId"] == message.conversation_id
        assert set(body["conversationProperties"]) == {"profile", "additional"}

    hub_message = by_trigger["message:customer"].json()["activities"][0]
    assert hub_message["type"] == "message"
    assert hub_message["message"] == {"type": "text", "text": "Where is my order?"}
    assert isinstance(hub_message["eventId"], int)
    assert hub_message["isEcho"] is False
    assert hub_message["interactionId"]
    assert hub_message["sender"]["integrationType"] == "Customer"
    assert hub_message["sender"]["channelType"] == "WebChat"
    assert hub_message["recipient"]["integrationType"] == "Agent"
    assert "event" not in hub_message

    hub_event = by_trigger["receipt:delivered"].json()["activities"][0]
    assert hub_event["type"] == "event"
    assert hub_event["event"]["type"] == "payload"
    assert hub_event["event"]["payloadType"] == "receipt:delivered"
    assert hub_event["event"]["payload"]["id"] == receipt.id
    assert hub_event["event"]["payload"]["receipt"]["state"] == "delivered"
    assert "message" not in hub_event


@pytest.mark.parametrize("format", ["standard", "hubster"])
async def test_rotation_signs_with_both_standard_secrets_or_the_new_hubster_key(
    make_gateway, make_sink, format
):
    gateway = await make_gateway()
    sink = await make_sink()
    before = await gateway.create_subscriber(url=sink.url(), events=["*"], format=format)
    subscriber_id = before["subscriberId"]
    response = await gateway.client.post(
        f"/subscribers/{subscriber_id}/rotate", headers={"Authorization": "Bearer x"}
    )
    assert response.status == 401
    response = await gateway.client.post(f"/subscribers/{subscriber_id}/rotate", headers=AUTH)
    assert response.status == 200
    after = await response.json()
    assert after["previousSecretExpiresAt"].endswith("Z")
    await gateway.store(activity())
    await wait_until(lambda: sink.received, message="the delivery")
    [received] = sink.received

    if format == "standard":
        assert after["secret"] != before["secret"]
        assert len(received.headers["webhook-signature"].split(" ")) == 2
        for secret in (before["secret"], after["secret"]):
            StandardWebhook(secret).verify(received.body, received.headers)
            SvixWebhook(secret).verify(received.body, received.headers)
    else:
        assert after["privateSigningKey"] != before["privateSigningKey"]
        assert received.headers["x-hubster-public-key"] == after["publicSigningKey"]
        signature = received.headers["x-hubster-signature"]
        signing.hubster.verify(received.body, signature, [after["privateSigningKey"]])
        with pytest.raises(signing.VerificationError):
            signing.hubster.verify(received.body, signature, [before["privateSigningKey"]])


@pytest.mark.parametrize(
    ("setting", "body"), [(0, None), (86400, {"graceSeconds": 0})], ids=["setting", "request"]
)
async def test_with_zero_grace_only_the_new_secret_signs(make_gateway, make_sink, setting, body):
    """A zero grace, from the setting or from the rotate request (whatever the setting),
    revokes the replaced secret at once."""
    gateway = await make_gateway(rotation_grace_seconds=setting)
    sink = await make_sink()
    before = await gateway.create_subscriber(url=sink.url(), events=["*"])
    path = f"/subscribers/{before['subscriberId']}/rotate"
    response = await gateway.client.post(path, json=body, headers=AUTH)
    assert response.status == 200, await response.text()
    after = await response.json()
    assert after["previousSecretExpiresAt"] is None
    await gateway.store(activity())
    await wait_until(lambda: sink.received, message="the delivery")
    [received] = sink.received
    assert len(received.headers["webhook-signature"].split(" ")) == 1
    StandardWebhook(after["secret"]).verify(received.body, received.headers)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(before["secret"]).verify(received.body, received.headers)


async def test_a_second_rotation_replaces_the_previous_secret(make_gateway, make_sink):
    """Both signatures during a rotation, never more: rotating twice signs with the newest
    secret and the one just before it; the first stops at once."""
    gateway = await make_gateway(rotation_grace_seconds=2)
    sink = await make_sink()
    first = await gateway.create_subscriber(url=sink.url(), events=["*"])
    path = f"/subscribers/{first['subscriberId']}"
    second = await (await gateway.client.post(f"{path}/rotate", headers=AUTH)).json()
    third = await (await gateway.client.post(f"{path}/rotate", headers=AUTH)).json()
    assert third["previousSecretExpiresAt"] >= second["previousSecretExpiresAt"]

    await gateway.store(activity())
    await wait_until(lambda: sink.received, message="the delivery during the grace")
    [during] = sink.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (second["secret"], third["secret"]):
        StandardWebhook(secret).verify(during.body, during.headers)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(first["secret"]).verify(during.body, during.headers)

    async def grace_over() -> bool:
        return (await gateway.subscriber(first["subscriberId"]))["previousSecretExpiresAt"] is None

    await wait_until(grace_over, message="previousSecretExpiresAt to turn null")
    await gateway.store(activity())
    await wait_until(lambda: len(sink.received) == 2, message="the delivery after the grace")
    after = sink.received[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    StandardWebhook(third["secret"]).verify(after.body, after.headers)
