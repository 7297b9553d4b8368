"""Standard Webhooks: activity bodies taken as activities, other bodies as `event:<type>`."""

from __future__ import annotations

import time

import orjson
import pytest
from inbound_support import Gateway, standard_headers

import signing

ACTIVITY = {
    "type": "message:agent",
    "occurredAt": "2026-01-02T03:04:05.678+01:00",
    "conversationId": "conv-1",
    "channel": "WebChat",
    "source": {"provider": "hubster", "eventId": "17", "attempt": 2, "echo": False},
    "sender": {"role": "agent", "id": "agent-7"},
    "recipient": {"role": "customer", "id": "cust-1", "address": None},
    "message": {"type": "text", "text": "Grüße ✓", "actions": []},
    "receipt": None,
    "event": None,
    "data": {"k": [1, 2]},
}


async def test_activity_body_is_taken_with_hub_forced(gateway: Gateway) -> None:
    integration = await gateway.create("standard", "hub-s", "tenant-s")
    body = orjson.dumps({**ACTIVITY, "id": "someone-elses-id"})
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 202, await response.text()
    [stored] = await gateway.stored()
    assert stored["id"] != "someone-elses-id"
    assert stored["hubId"] == "hub-s" and stored["tenantId"] == "tenant-s"
    assert stored["integrationId"] == integration["integrationId"]
    assert stored["occurredAt"] == "2026-01-02T02:04:05.678Z"
    assert stored["message"] == ACTIVITY["message"]
    assert stored["sender"] == {"role": "agent", "id": "agent-7", "address": None}
    assert stored["source"]["attempt"] == 2


@pytest.mark.parametrize(
    ("claim", "field"), [({"hubId": "other-hub"}, "hubId"), ({"tenantId": "other"}, "tenantId")]
)
async def test_activity_naming_another_hub_or_tenant_is_refused(
    gateway: Gateway, claim: dict[str, str], field: str
) -> None:
    integration = await gateway.create("standard", "hub-s", "tenant-s")
    body = orjson.dumps({**ACTIVITY, **claim})
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_payload" and field in error["message"]
    assert await gateway.stored() == []


async def test_activity_naming_its_own_hub_is_accepted(gateway: Gateway) -> None:
    integration = await gateway.create("standard", "hub-s", "tenant-s")
    body = orjson.dumps({**ACTIVITY, "hubId": "hub-s", "tenantId": "tenant-s"})
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 202


async def test_invalid_activity_names_the_field(gateway: Gateway) -> None:
    integration = await gateway.create("standard")
    body = orjson.dumps({**ACTIVITY, "sender": {"role": "pirate"}})
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 400
    assert "sender.role" in (await response.json())["error"]["message"]


async def test_generic_event_becomes_event_type(gateway: Gateway) -> None:
    integration = await gateway.create("standard", "hub-s")
    payload = {
        "type": "invoice.paid",
        "timestamp": "2026-03-01T10:00:00Z",
        "data": {"conversationId": "c-9", "amount": 12},
    }
    body = orjson.dumps(payload)
    headers = standard_headers(body, integration, "msg_generic")
    response = await gateway.post(integration, body, headers)
    assert response.status == 202
    [stored] = await gateway.stored()
    assert stored["type"] == "event:invoice.paid"
    assert stored["event"] == {"type": "invoice.paid"}
    assert stored["conversationId"] == "c-9"
    assert stored["occurredAt"] == "2026-03-01T10:00:00.000Z"
    assert stored["data"]["amount"] == 12
    assert stored["source"] == {
        "provider": "standard",
        "eventId": "msg_generic",
        "attempt": 1,
        "echo": False,
    }


async def test_redelivery_by_webhook_id_is_a_duplicate(gateway: Gateway) -> None:
    integration = await gateway.create("standard")
    body = orjson.dumps({"type": "ping", "data": {}})
    for expected in ({"accepted": 1, "duplicates": 0}, {"accepted": 0, "duplicates": 1}):
        response = await gateway.post(integration, body, standard_headers(body, integration))
        assert await response.json() == expected
    assert len(await gateway.stored()) == 1


async def test_stale_timestamp_is_refused(gateway: Gateway) -> None:
    integration = await gateway.create("standard")
    body = b'{"type": "ping"}'
    headers = standard_headers(body, integration, timestamp=int(time.time()) - 301)
    response = await gateway.post(integration, body, headers)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "timestamp_out_of_tolerance"


async def test_ed25519_public_key_integration_verifies_v1a(gateway: Gateway) -> None:
    pair = signing.standard.generate_ed25519_key_pair()
    integration = await gateway.create("standard", configuration={"publicKey": pair.public})
    assert "secret" not in integration["configuration"]
    body = b'{"type": "ping", "data": {}}'
    response = await gateway.post(
        integration, body, standard_headers(body, integration, key=pair.secret)
    )
    assert response.status == 202
    other = signing.standard.generate_ed25519_key_pair().secret
    response = await gateway.post(
        integration, body, standard_headers(body, integration, "msg_2", key=other)
    )
    assert response.status == 403


@pytest.mark.parametrize(
    ("occurred_at", "field"),
    [("0001-01-01T00:00:00+01:00", "occurredAt"), ("2026-01-01T00:00:00", "occurredAt")],
)
async def test_unusable_times_are_invalid(gateway: Gateway, occurred_at: str, field: str) -> None:
    integration = await gateway.create("standard")
    body = orjson.dumps({**ACTIVITY, "occurredAt": occurred_at})
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 400
    assert (await response.json())["error"]["message"].startswith(field)


async def test_replay_with_an_added_svix_id_is_a_duplicate(gateway: Gateway) -> None:
    """The signature covers `webhook-id` (svix-id is only its fallback): an unsigned svix-id
    added to a replay must not make it a new event."""
    integration = await gateway.create("standard")
    body = orjson.dumps({"type": "ping", "data": {}})
    headers = standard_headers(body, integration, "msg_signed")
    first = await gateway.post(integration, body, headers)
    assert await first.json() == {"accepted": 1, "duplicates": 0}
    replay = await gateway.post(integration, body, {**headers, "svix-id": "msg_unsigned"})
    assert await replay.json() == {"accepted": 0, "duplicates": 1}
    [stored] = await gateway.stored()
    assert stored["source"]["eventId"] == "msg_signed"


async def test_svix_headers_alone_are_read(gateway: Gateway) -> None:
    integration = await gateway.create("standard")
    body = orjson.dumps({"type": "ping", "data": {}})
    headers = {
        name.replace("webhook-", "svix-"): value
        for name, value in standard_headers(body, integration, "msg_svix").items()
    }
    response = await gateway.post(integration, body, headers)
    assert await response.json() == {"accepted": 1, "duplicates": 0}
    [stored] = await gateway.stored()
    assert stored["source"]["eventId"] == "msg_svix"


@pytest.mark.parametrize("state", ["DELIVERED", "Delivered", "delivered"])
async def test_receipt_activity_type_follows_the_lower_cased_state(
    gateway: Gateway, state: str
) -> None:
    integration = await gateway.create("standard")
    receipt = {"messageId": "m1", "state": state, "previousState": "SENT"}
    body = orjson.dumps(
        {**ACTIVITY, "type": f"receipt:{state}", "message": None, "receipt": receipt}
    )
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 202, await response.text()
    [stored] = await gateway.stored()
    assert stored["type"] == "receipt:delivered"
    assert stored["receipt"]["state"] == "delivered"
    assert stored["receipt"]["previousState"] == "sent"


async def test_receipt_type_naming_another_state_is_refused(gateway: Gateway) -> None:
    integration = await gateway.create("standard")
    receipt = {"messageId": "m1", "state": "failed"}
    body = orjson.dumps({**ACTIVITY, "type": "receipt:delivered", "receipt": receipt})
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_payload" and error["message"].startswith("type:")
    assert await gateway.stored() == []


async def test_a_standard_sender_cannot_pass_for_hubster(gateway: Gateway) -> None:
    """source.provider is the integration's kind; what the sender claimed stays in data."""
    integration = await gateway.create("standard")
    claimed = {"provider": "hubster", "eventId": "17", "attempt": 2, "echo": True}
    body = orjson.dumps({**ACTIVITY, "source": claimed})
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 202, await response.text()
    [stored] = await gateway.stored()
    assert stored["source"] == {
        "provider": "standard",
        "eventId": "17",
        "attempt": 2,
        "echo": False,
    }
    assert stored["data"] == {**ACTIVITY["data"], "submittedSource": claimed}  # type: ignore[dict-item]


async def test_a_standard_source_is_kept_without_a_copy(gateway: Gateway) -> None:
    integration = await gateway.create("standard")
    own = {"provider": "standard", "eventId": "e-5", "attempt": 1, "echo": False}
    body = orjson.dumps({**ACTIVITY, "source": own})
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 202, await response.text()
    [stored] = await gateway.stored()
    assert stored["source"] == own
    assert stored["data"] == ACTIVITY["data"]


async def test_minimal_activity_gets_source_and_time_from_the_gateway(gateway: Gateway) -> None:
    """Only `type`, `conversationId` and the member: the source comes from the signed
    `webhook-id`, `occurredAt` is `receivedAt`, the other members null, `data` empty."""
    integration = await gateway.create("standard", "hub-s")
    payload = {
        "type": "message:customer",
        "conversationId": "conv-min",
        "message": {"type": "text", "text": "hi"},
    }
    body = orjson.dumps(payload)
    headers = standard_headers(body, integration, "msg_minimal")
    response = await gateway.post(integration, body, headers)
    assert response.status == 202, await response.text()
    [stored] = await gateway.stored()
    assert stored["source"] == {
        "provider": "standard",
        "eventId": "msg_minimal",
        "attempt": 1,
        "echo": False,
    }
    assert stored["occurredAt"] == stored["receivedAt"]
    assert stored["receipt"] is None and stored["event"] is None
    assert stored["sender"] is None and stored["data"] == {}
    assert stored["message"] == {"type": "text", "text": "hi"}


async def test_control_characters_echoed_in_an_error_stay_out_of_its_header(
    gateway: Gateway,
) -> None:
    """The message echoes the sender's receipt state; the `UC-REST-ERROR` copy of it must
    still be a valid header (aiohttp would drop the connection instead of answering)."""
    integration = await gateway.create("standard")
    activity = {
        "type": "receipt:delivered",
        "conversationId": "c",
        "receipt": {"messageId": "m", "state": "\x1bfail\x85ed\r"},
    }
    body = orjson.dumps(activity)
    response = await gateway.post(integration, body, standard_headers(body, integration))
    assert response.status == 400
    header = response.headers["UC-REST-ERROR"]
    assert "fail" in header
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in header)
    assert "\x1bfail" in (await response.json())["error"]["message"]
